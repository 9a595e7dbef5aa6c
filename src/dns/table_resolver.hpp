// TableResolver: a Resolver fed from a table, for unit tests of higher layers (the delivery agent,
// msgauth). A name with records of some type answers kNoData for the other types; an unknown name
// answers kNxDomain, as real DNS does; fail() makes every lookup of a name a chosen failure.
// Depends on dns/resolver.hpp. Thread-safe (a mutex guards the table).
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "dns/resolver.hpp"

namespace posthorn::dns {

class TableResolver final : public Resolver {
 public:
  void add_mx(std::string name, uint16_t preference, std::string host);
  void add_null_mx(std::string name);
  void add_address(std::string name, const std::string& ip);  // A or AAAA by the address's family
  void add_txt(std::string name, std::string text);
  void add_ptr(const std::string& ip, std::string host);
  void add_tlsa(std::string name, Tlsa record);
  // Answers for `name` carry secure = true (as if DNSSEC-validated).
  void mark_secure(std::string name);
  // Every lookup of `name` answers `status` (kNxDomain, kNoData or kTempFail).
  void fail(std::string name, Status status);
  // Lookups made so far ("MX example.test", "A mx.example.test"), in order.
  std::vector<std::string> log() const;

  boost::asio::awaitable<MxAnswer> mx(std::string name) override;
  boost::asio::awaitable<AddressAnswer> a(std::string name) override;
  boost::asio::awaitable<AddressAnswer> aaaa(std::string name) override;
  boost::asio::awaitable<TxtAnswer> txt(std::string name) override;
  boost::asio::awaitable<NameAnswer> ptr(boost::asio::ip::address ip) override;
  boost::asio::awaitable<TlsaAnswer> tlsa(std::string name) override;

 private:
  enum class Type { kMx, kA, kAaaa, kTxt, kPtr, kTlsa };
  Status lookup_status(const std::string& name, Type type) const;  // with mutex_ held
  AddressAnswer addresses(std::string name, bool v6);
  // Looks `name` up in `table` (mutex_ held inside): status, secure flag, log line, the records.
  template <class Answer, class Table, class Fill>
  Answer answer(std::string_view log_type, std::string name, Type type, const Table& table, Fill fill);

  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Mx>> mx_;
  std::map<std::string, std::vector<boost::asio::ip::address>> addresses_;
  std::map<std::string, std::vector<std::string>> txt_;
  std::map<std::string, std::vector<std::string>> ptr_;  // by reverse name
  std::map<std::string, std::vector<Tlsa>> tlsa_;
  std::set<std::string> secure_;
  std::map<std::string, Status> failures_;
  std::vector<std::string> log_;
};

}  // namespace posthorn::dns
