// UnboundResolver: the production Resolver on libunbound. Queries go out with ub_resolve_async; the
// context's file descriptor is registered with Asio (posix::stream_descriptor) and ub_process() runs
// on a strand when it becomes readable, so no thread ever blocks on DNS. libunbound runs its resolver
// work in its own thread (ub_ctx_async(ctx, 1)), not in a forked process.
// Depends on dns/resolver.hpp, config/ (the [dns] section) and libunbound. Thread-safe: the lookups
// may be called from any thread; all libunbound calls happen on one strand.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "base/result.hpp"
#include "config/config.hpp"
#include "dns/resolver.hpp"

namespace posthorn::dns {

class UnboundResolver final : public Resolver {
 public:
  // resolver empty: the servers of /etc/resolv.conf. A trust anchor file turns DNSSEC validation on
  // (answers carry `secure`; bogus answers are temporary failures). Errc::kInvalid on a bad setting.
  static Result<std::shared_ptr<UnboundResolver>> create(boost::asio::any_io_executor executor,
                                                         const config::Dns& settings);
  ~UnboundResolver() override;

  boost::asio::awaitable<MxAnswer> mx(std::string name) override;
  boost::asio::awaitable<AddressAnswer> a(std::string name) override;
  boost::asio::awaitable<AddressAnswer> aaaa(std::string name) override;
  boost::asio::awaitable<TxtAnswer> txt(std::string name) override;
  boost::asio::awaitable<NameAnswer> ptr(boost::asio::ip::address ip) override;
  boost::asio::awaitable<TlsaAnswer> tlsa(std::string name) override;

  struct Impl;

 private:
  explicit UnboundResolver(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace posthorn::dns
