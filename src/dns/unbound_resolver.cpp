// UnboundResolver implementation.
// - Every libunbound call (resolve, cancel, process) runs on `strand`, so the callback state needs no
//   lock. A lookup registers a Pending entry, starts the fd watcher when it is not running, and waits
//   on the entry's timer; the libunbound callback (called from ub_process on the strand) fills the
//   entry and cancels the timer. A timer that fires on its own is the lookup timeout: ub_cancel, and
//   the answer is a temporary failure.
// - The watcher coroutine runs while lookups are pending: wait until ub_fd is readable, ub_process.
// - ub_ctx_delete closes ub_fd, so the stream_descriptor releases it instead of closing it.
#include "dns/unbound_resolver.hpp"

#include <unbound.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <unistd.h>
#include <spdlog/spdlog.h>
#include <unordered_map>

namespace posthorn::dns {

namespace asio = boost::asio;

namespace {

constexpr int kTypeA = 1;
constexpr int kTypePtr = 12;
constexpr int kTypeMx = 15;
constexpr int kTypeTxt = 16;
constexpr int kTypeTlsa = 52;
constexpr int kTypeAaaa = 28;
constexpr int kClassIn = 1;
constexpr int kRcodeNoError = 0;
constexpr int kRcodeNxDomain = 3;

std::string_view rcode_name(int rcode) {
  switch (rcode) {
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return "error rcode";
  }
}

}  // namespace

struct UnboundResolver::Impl : std::enable_shared_from_this<Impl> {
  struct Pending {
    Pending(Impl* o, const asio::strand<asio::any_io_executor>& s) : owner(o), timer(s) {}
    Impl* owner;
    int async_id = 0;
    asio::steady_timer timer;
    bool done = false;
    int err = 0;
    ub_result* result = nullptr;  // owned until the waiter frees it
  };

  Impl(asio::any_io_executor executor, ub_ctx* c, std::chrono::seconds t)
      : strand(asio::make_strand(executor)), fd(strand, ub_fd(c)), ctx(c), timeout(t) {}

  ~Impl() {
    fd.release();
    ub_ctx_delete(ctx);
  }

  static void on_result(void* arg, int err, ub_result* result) {
    auto* p = static_cast<Pending*>(arg);
    p->owner->pending.erase(p->async_id);  // lets the watcher stop once nothing is outstanding
    p->done = true;
    p->err = err;
    p->result = result;
    p->timer.cancel();
  }

  static asio::awaitable<void> watch(std::shared_ptr<Impl> self) {
    while (!self->pending.empty()) {
      auto [ec] = co_await self->fd.async_wait(asio::posix::descriptor_base::wait_read,
                                               asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted) continue;  // a timed-out lookup stopped the wait
      if (ec) break;
      if (int err = ub_process(self->ctx); err != 0) {
        spdlog::warn("dns: ub_process: {}", ub_strerror(err));
      }
    }
    self->watching = false;
  }

  // One lookup, run as its own coroutine on the strand (an awaitable resumes on the executor it was
  // spawned on, so a dispatch() to the strand would not keep it there). Returns the raw result
  // (freed by the caller) or a reason for failure.
  asio::awaitable<std::pair<ub_result*, std::string>> query(std::string name, int type) {
    return asio::co_spawn(strand, query_on_strand(std::move(name), type), asio::use_awaitable);
  }

  asio::awaitable<std::pair<ub_result*, std::string>> query_on_strand(std::string name, int type) {
    auto p = std::make_unique<Pending>(this, strand);
    int err = ub_resolve_async(ctx, name.c_str(), type, kClassIn, p.get(), &Impl::on_result, &p->async_id);
    if (err != 0) co_return std::pair<ub_result*, std::string>{nullptr, ub_strerror(err)};
    const int async_id = p->async_id;
    pending.emplace(async_id, p.get());
    if (!watching) {
      watching = true;
      asio::co_spawn(strand, watch(shared_from_this()), asio::detached);
    }
    if (!p->done) {
      p->timer.expires_after(timeout);
      co_await p->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    pending.erase(async_id);
    if (!p->done) {
      ub_cancel(ctx, async_id);
      if (pending.empty()) fd.cancel();  // nothing outstanding: let the watcher end
      co_return std::pair<ub_result*, std::string>{nullptr, "timeout"};
    }
    if (p->err != 0) co_return std::pair<ub_result*, std::string>{nullptr, ub_strerror(p->err)};
    co_return std::pair<ub_result*, std::string>{p->result, ""};
  }

  // Classifies a finished lookup; fills `why`. kOk means result->data holds records.
  static Status classify(const ub_result* r, std::string& why) {
    if (r->bogus) {
      why = std::string("DNSSEC validation failed: ") + (r->why_bogus ? r->why_bogus : "bogus");
      return Status::kTempFail;
    }
    if (r->rcode == kRcodeNxDomain || r->nxdomain) {
      why = "NXDOMAIN";
      return Status::kNxDomain;
    }
    if (r->rcode != kRcodeNoError) {
      why = std::string(rcode_name(r->rcode));
      return Status::kTempFail;
    }
    if (!r->havedata) {
      why = "no data";
      return Status::kNoData;
    }
    return Status::kOk;
  }

  asio::awaitable<AddressAnswer> address(std::string name, int type) {
    // Records of the wrong length are skipped; none left is "no data" (nothing to connect to).
    return records<AddressAnswer>(
        std::move(name), type,
        [type](std::string_view rdata, AddressAnswer& answer) {
          if (type == kTypeA && rdata.size() == 4) {
            asio::ip::address_v4::bytes_type b;
            std::memcpy(b.data(), rdata.data(), 4);
            answer.addresses.emplace_back(asio::ip::address_v4(b));
            return true;
          }
          if (type == kTypeAaaa && rdata.size() == 16) {
            asio::ip::address_v6::bytes_type b;
            std::memcpy(b.data(), rdata.data(), 16);
            answer.addresses.emplace_back(asio::ip::address_v6(b));
            return true;
          }
          return false;
        },
        Status::kNoData);
  }

  // Runs one lookup and hands each rdata of a kOk answer to `parse` (false: skip the record). An
  // answer whose records all fail to parse gets `if_none`: by default a temporary failure (a broken
  // answer, not "none").
  template <class Answer, class Parse>
  asio::awaitable<Answer> records(std::string name, int type, Parse parse, Status if_none = Status::kTempFail) {
    Answer answer;
    auto task = query(std::move(name), type);
    auto [result, failure] = co_await std::move(task);
    if (result == nullptr) {
      answer.status = Status::kTempFail;
      answer.why = failure;
      co_return answer;
    }
    answer.status = classify(result, answer.why);
    answer.secure = result->secure != 0;
    if (answer.status == Status::kOk) {
      bool any = false;
      for (int i = 0; result->data[i] != nullptr; ++i) {
        any = parse(std::string_view(result->data[i], size_t(result->len[i])), answer) || any;
      }
      if (!any) {
        answer.status = if_none;
        answer.why = if_none == Status::kNoData ? "no usable records" : "malformed records";
      }
    }
    ub_resolve_free(result);
    co_return answer;
  }

  asio::strand<asio::any_io_executor> strand;
  asio::posix::stream_descriptor fd;
  ub_ctx* ctx;
  std::chrono::seconds timeout;
  std::unordered_map<int, Pending*> pending;
  bool watching = false;
};

Result<std::shared_ptr<UnboundResolver>> UnboundResolver::create(asio::any_io_executor executor,
                                                                 const config::Dns& settings) {
  ub_ctx* ctx = ub_ctx_create();
  if (ctx == nullptr) return make_error(Errc::kInternal, "cannot create the DNS resolver");
  auto fail = [&](std::string what, int err) -> Result<std::shared_ptr<UnboundResolver>> {
    ub_ctx_delete(ctx);
    return make_error(Errc::kInvalid, "dns: " + what + ": " + ub_strerror(err));
  };
  // Resolver work in a thread of libunbound's, not a forked process (this is a threaded server).
  if (int err = ub_ctx_async(ctx, 1); err != 0) return fail("async mode", err);
  if (settings.resolver.empty()) {
    if (int err = ub_ctx_resolvconf(ctx, nullptr); err != 0) return fail("reading /etc/resolv.conf", err);
  } else {
    // A forwarder on loopback (tests, a local caching resolver) must be allowed.
    if (int err = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no"); err != 0) return fail("option", err);
    // libunbound answers the RFC 6761 "test." names itself (NXDOMAIN); let a configured resolver
    // answer them, so test zones work (real DNS has no "test." either).
    if (int err = ub_ctx_set_option(ctx, "local-zone:", "test. transparent"); err != 0) return fail("option", err);
    const std::string fwd = settings.resolver + "@" + std::to_string(settings.resolver_port);
    if (int err = ub_ctx_set_fwd(ctx, fwd.c_str()); err != 0) return fail("resolver " + fwd, err);
  }
  if (!settings.trust_anchor_file.empty()) {
    // libunbound only reads the file at the first lookup; say now that it is missing.
    if (access(settings.trust_anchor_file.c_str(), R_OK) != 0) {
      ub_ctx_delete(ctx);
      return make_error(Errc::kInvalid, "dns: cannot read trust anchor " + settings.trust_anchor_file.string());
    }
    if (int err = ub_ctx_add_ta_file(ctx, settings.trust_anchor_file.c_str()); err != 0) {
      return fail("trust anchor " + settings.trust_anchor_file.string(), err);
    }
  }
  auto impl = std::make_shared<Impl>(std::move(executor), ctx, settings.timeout);
  return std::shared_ptr<UnboundResolver>(new UnboundResolver(std::move(impl)));
}

UnboundResolver::~UnboundResolver() {
  // A parked watcher holds the Impl; stop it so the context is deleted.
  asio::dispatch(impl_->strand, [impl = impl_] {
    boost::system::error_code ignored;
    impl->fd.cancel(ignored);
  });
}

asio::awaitable<MxAnswer> UnboundResolver::mx(std::string name) {
  auto task = impl_->records<MxAnswer>(std::move(name), kTypeMx, [](std::string_view rdata, MxAnswer& answer) {
    if (rdata.size() < 3) return false;
    Mx mx;
    mx.preference = uint16_t((uint8_t(rdata[0]) << 8) | uint8_t(rdata[1]));
    size_t pos = 2;
    if (!read_wire_name(rdata, pos, mx.host)) return false;
    answer.records.push_back(std::move(mx));
    return true;
  });
  MxAnswer answer = co_await std::move(task);
  finish_mx(answer);
  co_return answer;
}

asio::awaitable<AddressAnswer> UnboundResolver::a(std::string name) {
  return impl_->address(std::move(name), kTypeA);
}

asio::awaitable<AddressAnswer> UnboundResolver::aaaa(std::string name) {
  return impl_->address(std::move(name), kTypeAaaa);
}

asio::awaitable<TxtAnswer> UnboundResolver::txt(std::string name) {
  return impl_->records<TxtAnswer>(std::move(name), kTypeTxt, [](std::string_view rdata, TxtAnswer& answer) {
    std::string text;
    if (!read_txt_rdata(rdata, text)) return false;
    answer.records.push_back(std::move(text));
    return true;
  });
}

asio::awaitable<NameAnswer> UnboundResolver::ptr(asio::ip::address ip) {
  return impl_->records<NameAnswer>(reverse_name(ip), kTypePtr, [](std::string_view rdata, NameAnswer& answer) {
    std::string host;
    size_t pos = 0;
    if (!read_wire_name(rdata, pos, host)) return false;
    answer.names.push_back(std::move(host));
    return true;
  });
}

asio::awaitable<TlsaAnswer> UnboundResolver::tlsa(std::string name) {
  return impl_->records<TlsaAnswer>(std::move(name), kTypeTlsa, [](std::string_view rdata, TlsaAnswer& answer) {
    if (rdata.size() < 3) return false;
    answer.records.push_back(Tlsa{uint8_t(rdata[0]), uint8_t(rdata[1]), uint8_t(rdata[2]), std::string(rdata.substr(3))});
    return true;
  });
}

}  // namespace posthorn::dns
