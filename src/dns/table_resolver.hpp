// TableResolver: a Resolver fed from a table, for unit tests of higher layers (the delivery agent,
// msgauth). A name with records of some type answers kNoData for the other types; an unknown name
// answers kNxDomain, as real DNS does; fail() makes every lookup of a name a chosen failure.
// Depends on dns/resolver.hpp. Thread-safe (a mutex guards the table).
#pragma once

#include <map>
#include <mutex>
#include <utility>

#include "dns/resolver.hpp"

namespace posthorn::dns {

class TableResolver final : public Resolver {
 public:
  void add_mx(std::string name, uint16_t preference, std::string host);
  void add_null_mx(std::string name);
  void add_address(std::string name, const std::string& ip);  // A or AAAA by the address's family
  // Every lookup of `name` answers `status` (kNxDomain, kNoData or kTempFail).
  void fail(std::string name, Status status);
  // Lookups made so far ("MX example.test", "A mx.example.test"), in order.
  std::vector<std::string> log() const;

  boost::asio::awaitable<MxAnswer> mx(std::string name) override;
  boost::asio::awaitable<AddressAnswer> a(std::string name) override;
  boost::asio::awaitable<AddressAnswer> aaaa(std::string name) override;

 private:
  Status lookup_status(const std::string& name, int type) const;  // with mutex_ held
  AddressAnswer addresses(std::string name, bool v6);

  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Mx>> mx_;
  std::map<std::string, std::vector<boost::asio::ip::address>> addresses_;
  std::map<std::string, Status> failures_;
  std::vector<std::string> log_;
};

}  // namespace posthorn::dns
