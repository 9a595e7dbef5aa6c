// DeliveryAgent implementation. Notes:
// - Limits are async semaphores: a waiter parks on its own concurrent_channel and release() hands its
//   slot straight to the first waiter (FIFO), so nobody starves and no thread blocks.
// - The pool holds idle clients per destination key (the domain, or "smarthost"). Each pooled client
//   has a timer on its own strand; when it fires (connection_idle) or close_idle() cancels it, the
//   client is taken out and sent QUIT. take() hands out the newest idle client.
// - A pooled client may have been closed by the server meanwhile: when its MAIL gets no reply at all,
//   the job falls through to a fresh connection (nothing was sent, so nothing is delivered twice).
#include "smtpc/agent.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <spdlog/spdlog.h>

#include "base/ascii.hpp"
#include "smtpc/dane.hpp"
#include "smtpc/mta_sts.hpp"

namespace posthorn::smtpc {

namespace asio = boost::asio;

std::string_view disposition_name(Disposition d) {
  switch (d) {
    case Disposition::kDelivered: return "delivered";
    case Disposition::kTemporary: return "temporary failure";
    case Disposition::kPermanent: return "permanent failure";
  }
  return "unknown";
}

namespace {

using Channel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

class Semaphore {
 public:
  explicit Semaphore(size_t limit) : limit_(limit) {}

  asio::awaitable<void> acquire() {
    std::shared_ptr<Channel> ch;
    {
      std::lock_guard lock(mutex_);
      if (used_ < limit_) {
        ++used_;
        co_return;
      }
      ch = std::make_shared<Channel>(co_await asio::this_coro::executor, 1);
      waiters_.push_back(ch);
    }
    co_await ch->async_receive(asio::as_tuple(asio::use_awaitable));  // the slot is handed over
  }

  void release() {
    std::shared_ptr<Channel> next;
    {
      std::lock_guard lock(mutex_);
      if (waiters_.empty()) {
        --used_;
        return;
      }
      next = std::move(waiters_.front());
      waiters_.pop_front();
    }
    next->try_send(boost::system::error_code{});
  }

 private:
  std::mutex mutex_;
  size_t limit_;
  size_t used_ = 0;
  std::deque<std::shared_ptr<Channel>> waiters_;
};

// Releases a slot when the delivery ends, however it ends.
class Permit {
 public:
  explicit Permit(std::shared_ptr<Semaphore> s) : s_(std::move(s)) {}
  Permit(const Permit&) = delete;
  Permit& operator=(const Permit&) = delete;
  ~Permit() {
    if (s_) s_->release();
  }

 private:
  std::shared_ptr<Semaphore> s_;
};

RecipientOutcome outcome_from(const Recipient& r, const Reply& reply, const std::string& mx_host) {
  RecipientOutcome o;
  o.address = r.address;
  o.disposition = reply.ok() ? Disposition::kDelivered
                  : reply.permanent() ? Disposition::kPermanent
                                      : Disposition::kTemporary;
  o.code = reply.code;
  o.status = reply.enhanced();
  o.text = reply.to_string();
  o.mx_host = reply.code != 0 ? mx_host : std::string();
  return o;
}

void fill_all(DeliveryOutcome& out, const std::vector<Recipient>& rcpts, const Reply& reply,
              const std::string& mx_host) {
  out.recipients.clear();
  for (const auto& r : rcpts) out.recipients.push_back(outcome_from(r, reply, mx_host));
}

bool has_8bit_or_utf8(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// A TLS client context: TLS 1.2 or later.
std::shared_ptr<asio::ssl::context> client_context() {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  return ctx;
}

}  // namespace

struct DeliveryAgent::Impl : std::enable_shared_from_this<Impl> {
  struct Pooled {
    std::unique_ptr<SmtpClient> client;
    uint64_t id = 0;
    std::shared_ptr<asio::steady_timer> timer;
  };

  // One place to try: a host name and its addresses.
  struct Target {
    std::string host;
    std::vector<asio::ip::address> addresses;
    bool mx_secure = false;         // the MX answer naming it was DNSSEC-secure (RFC 7672 §2.2.1)
    bool addresses_secure = false;  // its A/AAAA answers were too (RFC 7672 §2.2.2)
  };

  // How one host must be talked to [RFC 7672, RFC 8461].
  enum class TlsLevel {
    kOpportunistic,  // STARTTLS when offered, any certificate, plaintext otherwise [RFC 7435]
    kEncrypt,        // secure TLSA records, none usable: STARTTLS mandatory, unauthenticated [RFC 7672 §2.2]
    kDane,           // usable secure TLSA records: STARTTLS mandatory, DANE-authenticated
    kStsEnforce,     // MTA-STS enforce: STARTTLS mandatory, PKIX-valid certificate for the MX name
  };
  struct HostPolicy {
    TlsLevel level = TlsLevel::kOpportunistic;
    std::vector<dns::Tlsa> tlsa;  // usable records (kDane)
    bool sts_testing = false;     // MTA-STS testing: opportunistic, but certificate problems are logged
    queue::TlsPolicyRef report;   // the policy as TLS-RPT names it; type "" when none applies
    bool sts_unlisted = false;    // MTA-STS testing and the host is not in the policy's mx list
    bool mandatory() const { return level != TlsLevel::kOpportunistic; }
    std::string_view name() const {
      switch (level) {
        case TlsLevel::kDane: return "DANE";
        case TlsLevel::kEncrypt: return "DANE (encrypt-only)";
        case TlsLevel::kStsEnforce: return "the MTA-STS policy";
        case TlsLevel::kOpportunistic: break;
      }
      return "opportunistic TLS";
    }
  };

  enum class Step { kDone, kNext };

  asio::any_io_executor executor;
  std::shared_ptr<dns::Resolver> resolver;
  config::Delivery settings;
  Timeouts timeouts;
  std::shared_ptr<asio::ssl::context> opportunistic_tls;
  std::shared_ptr<asio::ssl::context> smarthost_tls;
  std::shared_ptr<asio::ssl::context> dane_tls;  // SSL_CTX_dane_enable'd, no trust store of its own
  std::shared_ptr<asio::ssl::context> pkix_tls;  // tls_ca_file or the system CAs (MTA-STS)
  std::shared_ptr<mta_sts::PolicyStore> sts;

  std::mutex mutex;  // guards everything below
  std::map<std::string, std::shared_ptr<Semaphore>> per_destination;
  std::shared_ptr<Semaphore> global;
  std::map<std::string, std::vector<Pooled>> pool;
  uint64_t next_pool_id = 1;
  AgentStats stats;

  bool smarthost() const { return !settings.smarthost.host.empty(); }

  std::shared_ptr<Semaphore> destination_semaphore(const std::string& key) {
    std::lock_guard lock(mutex);
    auto& s = per_destination[key];
    if (!s) s = std::make_shared<Semaphore>(settings.max_connections_per_destination);
    return s;
  }

  std::unique_ptr<SmtpClient> take(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = pool.find(key);
    if (it == pool.end() || it->second.empty()) return nullptr;
    Pooled p = std::move(it->second.back());
    it->second.pop_back();
    asio::post(p.timer->get_executor(), [t = p.timer] { t->cancel(); });
    return std::move(p.client);
  }

  void put(const std::string& key, std::unique_ptr<SmtpClient> client) {
    auto strand = asio::make_strand(executor);
    auto timer = std::make_shared<asio::steady_timer>(strand);
    uint64_t id = 0;
    {
      std::lock_guard lock(mutex);
      id = next_pool_id++;
      pool[key].push_back(Pooled{std::move(client), id, timer});
    }
    asio::co_spawn(strand, expire(shared_from_this(), key, id, timer), asio::detached);
  }

  static asio::awaitable<void> expire(std::shared_ptr<Impl> self, std::string key, uint64_t id,
                                      std::shared_ptr<asio::steady_timer> timer) {
    timer->expires_after(self->settings.connection_idle);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    std::unique_ptr<SmtpClient> client;
    {
      std::lock_guard lock(self->mutex);
      auto& list = self->pool[key];
      for (auto it = list.begin(); it != list.end(); ++it) {
        if (it->id == id) {
          client = std::move(it->client);
          list.erase(it);
          break;
        }
      }
    }
    if (client) co_await client->quit();
  }

  // MX hosts (or the smarthost, or an address literal) in the order to try. Fills `out` and returns
  // false when routing already decided the outcome (null MX, NXDOMAIN, DNS failure).
  asio::awaitable<bool> route(const DeliveryJob& job, std::vector<Target>& targets, DeliveryOutcome& out) {
    std::string domain = job.domain;
    if (smarthost()) domain = settings.smarthost.host;
    // An address literal or an IP (smarthost = "192.0.2.1"): no DNS.
    std::string literal = domain;
    if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') literal = literal.substr(1, literal.size() - 2);
    if (ascii::istarts_with(literal, "IPv6:")) literal = literal.substr(5);
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(literal, ec);
    if (!ec) {
      targets.push_back(Target{literal, {ip}});
      co_return true;
    }
    if (smarthost()) {
      targets.push_back(Target{domain, {}});
      co_return true;
    }
    auto mx = co_await resolver->mx(domain);
    switch (mx.status) {
      case dns::Status::kNxDomain:
        fill_all(out, job.recipients, Reply::local("5.1.2", "Host or domain name not found: " + domain + " (NXDOMAIN)"), "");
        co_return false;
      case dns::Status::kTempFail:
        fill_all(out, job.recipients,
                 Reply::local("4.4.3", "Temporary DNS failure looking up MX of " + domain + ": " + mx.why), "");
        co_return false;
      case dns::Status::kNoData:
        targets.push_back(Target{ascii::lower(domain), {}, mx.secure});  // implicit MX [RFC 5321 §5.1]
        co_return true;
      case dns::Status::kOk: break;
    }
    if (mx.null_mx) {
      fill_all(out, job.recipients, Reply::local("5.1.10", "Domain " + domain + " does not accept mail (null MX)"), "");
      co_return false;
    }
    // Shuffle among equal preferences [RFC 5321 §5.1].
    thread_local std::mt19937 rng{std::random_device{}()};
    for (size_t i = 0; i < mx.records.size();) {
      size_t j = i;
      while (j < mx.records.size() && mx.records[j].preference == mx.records[i].preference) ++j;
      std::shuffle(mx.records.begin() + long(i), mx.records.begin() + long(j), rng);
      i = j;
    }
    const std::string self_name = ascii::lower(settings.hostname);
    for (const auto& r : mx.records) {
      if (r.host == self_name) continue;  // never deliver to ourselves
      targets.push_back(Target{r.host, {}, mx.secure});
    }
    if (targets.empty()) {
      fill_all(out, job.recipients, Reply::local("5.4.6", "mail for " + domain + " loops back to myself"), "");
      co_return false;
    }
    co_return true;
  }

  // AAAA (when enabled) then A. Returns the DNS failure to report when there is no address.
  asio::awaitable<Reply> resolve(Target& t) {
    if (!t.addresses.empty()) co_return Reply{};
    bool temp = false;
    std::string why;
    bool secure = true;
    if (settings.ipv6) {
      auto v6 = co_await resolver->aaaa(t.host);
      temp |= v6.status == dns::Status::kTempFail;
      if (v6.status == dns::Status::kTempFail) why = v6.why;
      secure &= v6.secure;
      t.addresses = v6.addresses;
    }
    auto v4 = co_await resolver->a(t.host);
    temp |= v4.status == dns::Status::kTempFail;
    if (v4.status == dns::Status::kTempFail) why = v4.why;
    secure &= v4.secure;
    t.addresses_secure = secure;
    t.addresses.insert(t.addresses.end(), v4.addresses.begin(), v4.addresses.end());
    if (!t.addresses.empty()) co_return Reply{};
    if (temp) co_return Reply::local("4.4.3", "Temporary DNS failure looking up " + t.host + ": " + why);
    co_return Reply::local("5.4.4", "Host " + t.host + " has no address (A/AAAA)");
  }

  // The TLS policy of one MX host. False when the host must not be used (`why` says why): a TLSA
  // lookup that failed or was bogus [RFC 7672 §2.2].
  asio::awaitable<bool> host_policy(const Target& t, HostPolicy& hp, Reply& why) {
    hp = HostPolicy{};
    if (smarthost() || !settings.dane || !t.mx_secure || !t.addresses_secure) co_return true;
    const std::string name = tlsa_name(settings.port, t.host);
    auto answer = co_await resolver->tlsa(name);
    switch (answer.status) {
      case dns::Status::kNxDomain:
      case dns::Status::kNoData: co_return true;  // no TLSA records: no DANE
      case dns::Status::kTempFail:
        why = Reply::local("4.7.5", "cannot look up the TLSA records " + name + " (" + answer.why +
                                        "): MX host " + t.host + " is not used [RFC 7672 §2.2]");
        co_return false;
      case dns::Status::kOk: break;
    }
    if (!answer.secure) co_return true;  // insecure TLSA records mean nothing
    hp.tlsa = usable_tlsa(answer.records);
    hp.level = hp.tlsa.empty() ? TlsLevel::kEncrypt : TlsLevel::kDane;
    hp.report.type = "tlsa";
    for (const auto& r : answer.records) hp.report.strings.push_back(tlsa_text(r));
    co_return true;
  }

  // "3 1 1 ab12..." (RFC 6698 §2.2 presentation form), for TLS-RPT policy strings.
  static std::string tlsa_text(const dns::Tlsa& r) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = std::to_string(r.usage) + " " + std::to_string(r.selector) + " " +
                      std::to_string(r.matching_type) + " ";
    for (unsigned char c : r.data) {
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    return out;
  }

  // The RFC 8460 §4.3 result type of a certificate verification failure.
  static std::string result_type(long verify) {
    switch (verify) {
      case X509_V_ERR_HOSTNAME_MISMATCH: return "certificate-host-mismatch";
      case X509_V_ERR_CERT_HAS_EXPIRED:
      case X509_V_ERR_CERT_NOT_YET_VALID: return "certificate-expired";
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_CERT_UNTRUSTED: return "certificate-not-trusted";
      default: return "validation-failure";
    }
  }

  // Notes a session (result "" = success) for TLS-RPT when a policy applies to the host.
  static void note(DeliveryOutcome& out, const HostPolicy& hp, const std::string& host, const std::string& ip,
                   std::string result) {
    if (hp.report.type.empty()) return;
    out.tls_sessions.push_back(queue::TlsSession{hp.report, std::move(result), host, ip});
  }

  // "certificate has expired" for a handshake that failed in verification, else "".
  static std::string verify_error(const SmtpClient& client) {
    const long v = client.tls_verify_result();
    return v == X509_V_OK ? std::string() : std::string(X509_verify_cert_error_string(v));
  }

  // Runs the transaction on a ready client and fills `out`; pools or closes the client. Returns false
  // when the connection broke before MAIL got any reply (nothing was delivered: try elsewhere).
  asio::awaitable<bool> transact(const std::string& key, std::unique_ptr<SmtpClient> client, const DeliveryJob& job,
                                 DeliveryOutcome& out) {
    out.mx_host = client->mx_host();
    out.remote_ip = client->remote_ip();
    out.tls = client->tls();
    // Local checks against what the server said it can take (t.mail stays "no reply": nothing was sent).
    const Capabilities& caps = client->capabilities();
    Reply refusal;
    if (caps.size && *caps.size > 0 && job.mail.size > *caps.size) {
      refusal = Reply::local("5.3.4", "message size " + std::to_string(job.mail.size) + " exceeds the limit " +
                                          std::to_string(*caps.size) + " of " + client->mx_host());
    }
    bool utf8_needed = job.mail.smtputf8 || has_8bit_or_utf8(job.mail.sender);
    for (const auto& r : job.recipients) utf8_needed |= has_8bit_or_utf8(r.address);
    if (utf8_needed && !caps.smtputf8) {
      refusal = Reply::local("5.6.7", client->mx_host() + " does not support SMTPUTF8, needed by this message");
    }
    if (refusal.permanent()) {
      fill_all(out, job.recipients, refusal, "");
      co_await release(key, std::move(client));
      co_return true;
    }
    auto reader = job.message();
    if (!reader) {
      fill_all(out, job.recipients, Reply::local("4.3.0", "cannot read the message: " + reader.error().message), "");
      co_await release(key, std::move(client));
      co_return true;
    }
    auto task = client->send(job.mail, job.recipients, **reader);
    TransactionResult t = co_await std::move(task);
    out.recipients.clear();
    for (size_t i = 0; i < job.recipients.size(); ++i) {
      out.recipients.push_back(outcome_from(job.recipients[i], t.final[i], client->mx_host()));
      out.recipients.back().remote_dsn = caps.dsn;
    }
    if (t.message_sent) {
      std::lock_guard lock(mutex);
      ++stats.messages_sent;
    }
    const bool started = t.mail.code != 0;
    co_await release(key, std::move(client));
    co_return started;
  }

  asio::awaitable<void> release(const std::string& key, std::unique_ptr<SmtpClient> client) {
    if (client->usable() && client->messages() < settings.max_messages_per_connection &&
        settings.connection_idle.count() > 0) {
      put(key, std::move(client));
      co_return;
    }
    co_await client->quit();
  }

  // One connection attempt to one address. kDone: `out` holds the final answer of this delivery.
  // kNext: try the next address/host; `last` says why this one failed.
  // `hp` is the host's TLS policy: when mandatory, nothing is sent in the clear.
  asio::awaitable<Step> attempt(const std::string& key, const Target& target, asio::ip::address address,
                                const DeliveryJob& job, DeliveryOutcome& out, Reply& last, bool plaintext_only,
                                const HostPolicy& hp) {
    const bool relay = smarthost();
    const auto& sh = settings.smarthost;
    const uint16_t port = relay ? sh.port : settings.port;
    std::shared_ptr<asio::ssl::context> implicit;
    if (relay && sh.tls == config::SmarthostTls::kImplicit) implicit = smarthost_tls;
    auto ex = co_await asio::this_coro::executor;
    auto opening = SmtpClient::open(ex, asio::ip::tcp::endpoint(address, port), target.host, timeouts, implicit,
                                    sh.verify_certificate);
    auto [client, greeting] = co_await std::move(opening);
    {
      std::lock_guard lock(mutex);
      ++stats.connections_opened;
    }
    if (!client) {
      last = greeting;
      co_return Step::kNext;
    }
    Reply hello = co_await client->hello(settings.hostname);
    if (!hello.ok()) {
      last = hello;
      co_await client->quit();
      co_return Step::kNext;
    }
    const bool want_tls = relay ? sh.tls == config::SmarthostTls::kStartTls : !plaintext_only;
    const std::string where = target.host + "[" + address.to_string() + "]";
    if (want_tls && !client->tls()) {
      if (!client->capabilities().starttls) {
        if (relay) {
          last = Reply::local("4.7.4", "smarthost " + target.host + " does not offer STARTTLS");
          co_await client->quit();
          co_return Step::kNext;
        }
        note(out, hp, target.host, address.to_string(), "starttls-not-supported");
        if (hp.mandatory()) {
          last = Reply::local("4.7.5", where + " does not offer STARTTLS, which " + std::string(hp.name()) +
                                           " requires; not sent in the clear");
          co_await client->quit();
          co_return Step::kNext;
        }
      } else {
        auto tls_ctx = relay ? smarthost_tls : opportunistic_tls;
        bool verify = relay && sh.verify_certificate;
        std::function<bool(SSL*)> setup;
        if (hp.level == TlsLevel::kDane) {
          tls_ctx = dane_tls;
          setup = dane_setup(hp.tlsa, target.host);
        } else if (hp.level == TlsLevel::kStsEnforce) {
          tls_ctx = pkix_tls;
          verify = true;  // the chain against pkix_tls's anchors and the MX host name [RFC 8461 §4.2]
        } else if (hp.sts_testing) {
          // Verified but not enforced: the handshake goes on, the result is only logged.
          tls_ctx = pkix_tls;
          setup = [host = target.host](SSL* ssl) { return SSL_set1_host(ssl, host.c_str()) == 1; };
        }
        Reply r = co_await client->starttls(tls_ctx, verify, std::move(setup));
        if (r.code == 220) {
          const long v = client->tls_verify_result();
          if (hp.sts_testing && v != X509_V_OK) {
            spdlog::warn("outbound {}: MTA-STS (testing) would refuse the certificate: {}", where,
                         X509_verify_cert_error_string(v));
          }
          std::string result;
          if (hp.sts_testing && v != X509_V_OK) result = result_type(v);
          else if (hp.sts_unlisted) result = "validation-failure";
          note(out, hp, target.host, address.to_string(), std::move(result));
        } else if (!client->usable()) {
          note(out, hp, target.host, address.to_string(), result_type(client->tls_verify_result()));
        } else {
          note(out, hp, target.host, address.to_string(), "starttls-not-supported");
        }
        if (r.code == 220) {
          hello = co_await client->hello(settings.hostname);
          if (!hello.ok()) {
            last = hello;
            co_await client->quit();
            co_return Step::kNext;
          }
        } else if (!client->usable()) {
          // The handshake failed: the connection is gone.
          last = r;
          if (hp.level == TlsLevel::kDane || hp.level == TlsLevel::kStsEnforce) {
            const std::string err = verify_error(*client);
            const std::string what = hp.level == TlsLevel::kDane ? "DANE authentication" : "MTA-STS certificate check";
            last = Reply::local("4.7.5", what + " of " + where + " failed" +
                                             (err.empty() ? std::string(" (TLS handshake)") : ": " + err));
          }
          co_await client->quit();
          if (!relay && settings.tls_fallback_plaintext && !plaintext_only && !hp.mandatory()) {
            spdlog::info("outbound {}[{}]: TLS failed, retrying in the clear (tls_fallback_plaintext)", target.host,
                         address.to_string());
            co_return co_await attempt(key, target, address, job, out, last, true, hp);
          }
          co_return Step::kNext;
        } else if (hp.mandatory()) {
          last = Reply::local("4.7.5", where + " declined STARTTLS (" + r.to_string() + "), which " +
                                           std::string(hp.name()) + " requires; not sent in the clear");
          co_await client->quit();
          co_return Step::kNext;
        } else if (relay) {
          last = r;
          co_await client->quit();
          co_return Step::kNext;
        }
        // Otherwise the server declined STARTTLS (454): opportunistic TLS continues in the clear.
      }
    }
    if (relay && !sh.username.empty()) {
      Reply r = co_await client->auth(sh.username, sh.password);
      if (!r.ok()) {
        // A credentials problem is ours to fix, never the sender's: temporary, even for 535.
        fill_all(out, job.recipients,
                 Reply::local("4.7.0", "smarthost " + target.host + " refused authentication: " + r.to_string()), "");
        out.mx_host = target.host;
        co_await client->quit();
        co_return Step::kDone;
      }
    }
    auto task = transact(key, std::move(client), job, out);
    const bool decided = co_await std::move(task);
    if (!decided) {
      last = out.recipients.empty() ? Reply{} : Reply::local(out.recipients[0].status, out.recipients[0].text);
      co_return Step::kNext;  // the connection broke before the transaction started
    }
    co_return Step::kDone;
  }

  asio::awaitable<DeliveryOutcome> run(DeliveryJob job) {
    DeliveryOutcome out;
    const std::string key = smarthost() ? std::string("smarthost") : ascii::lower(job.domain);
    auto dest = destination_semaphore(key);
    co_await dest->acquire();
    Permit dest_permit(dest);
    co_await global->acquire();
    Permit global_permit(global);

    // A pooled connection first.
    while (auto client = take(key)) {
      {
        std::lock_guard lock(mutex);
        ++stats.connections_reused;
      }
      auto task = transact(key, std::move(client), job, out);
      const bool decided = co_await std::move(task);
      if (decided) {
        out.reused_connection = true;
        co_return out;
      }
    }

    std::vector<Target> targets;
    const bool routed = co_await route(job, targets, out);
    if (!routed) co_return out;
    mta_sts::Lookup sts_lookup;
    queue::TlsPolicyRef sts_report;  // the MTA-STS policy as TLS-RPT names it
    if (!smarthost() && settings.mta_sts) {
      auto looking = sts->lookup(job.domain);
      sts_lookup = co_await std::move(looking);
      sts_report.domain = ascii::lower(job.domain);
      sts_report.type = "sts";
      if (sts_lookup.policy) {
        for (auto line : ascii::split(sts_lookup.policy->text, '\n')) {
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          line = ascii::trim(line);
          if (!line.empty()) sts_report.strings.emplace_back(line);
        }
        sts_report.mx = sts_lookup.policy->mx;
      }
      if (!sts_lookup.failure.empty()) {
        out.tls_sessions.push_back(queue::TlsSession{sts_report, sts_lookup.failure, "", ""});
      }
    }
    Reply last = Reply::local("4.4.1", "no host could be reached");
    Reply policy_failure;  // the last host refused by the TLS policy (4.7.5), which explains best
    bool any_temporary = false;
    for (auto& target : targets) {
      Reply dns_failure = co_await resolve(target);
      if (target.addresses.empty()) {
        last = dns_failure;
        any_temporary |= dns_failure.transient();
        continue;
      }
      HostPolicy hp;
      bool usable = co_await host_policy(target, hp, last);
      hp.report.domain = ascii::lower(job.domain);
      if (!usable) {
        hp.report.type = "tlsa";
        note(out, hp, target.host, "", "dnssec-invalid");
      }
      // MTA-STS for hosts without DANE (DANE takes precedence, RFC 8461 §2).
      if (usable && hp.level == TlsLevel::kOpportunistic && sts_lookup.policy) {
        const auto& policy = *sts_lookup.policy;
        const bool listed = mta_sts::policy_allows(policy, target.host);
        hp.report = sts_report;
        if (policy.mode == mta_sts::Mode::kEnforce && !listed) note(out, hp, target.host, "", "validation-failure");
        hp.sts_unlisted = !listed;
        if (policy.mode == mta_sts::Mode::kEnforce) {
          hp.level = TlsLevel::kStsEnforce;
          if (!listed) {
            last = Reply::local("4.7.5", "MX host " + target.host + " is not listed in the MTA-STS policy of " +
                                             ascii::lower(job.domain));
            usable = false;
          }
        } else {
          hp.sts_testing = true;
          if (!listed) {
            spdlog::warn("outbound {}: not listed in the MTA-STS policy (testing) of {}", target.host, job.domain);
          }
        }
      }
      if (!usable) {
        policy_failure = last;
        any_temporary = true;
        spdlog::info("outbound {}: {}", target.host, last.to_string());
        continue;
      }
      for (const auto& address : target.addresses) {
        auto task = attempt(key, target, address, job, out, last, false, hp);
        Step step = co_await std::move(task);
        if (step == Step::kDone) co_return out;
        any_temporary |= last.transient();
        if (hp.mandatory() && last.status == "4.7.5") policy_failure = last;
        spdlog::info("outbound {}[{}]: {}", target.host, address.to_string(), last.to_string());
      }
    }
    if (!policy_failure.status.empty()) last = policy_failure;
    // Every host failed: permanent only when every failure was permanent.
    if (any_temporary && last.permanent()) last = Reply::local("4.4.1", last.to_string());
    fill_all(out, job.recipients, last, "");
    co_return out;
  }
};

Result<std::shared_ptr<DeliveryAgent>> DeliveryAgent::create(asio::any_io_executor executor,
                                                             std::shared_ptr<dns::Resolver> resolver,
                                                             const config::Delivery& settings,
                                                             const std::filesystem::path& data_dir) {
  auto impl = std::make_shared<Impl>();
  impl->executor = executor;
  impl->resolver = std::move(resolver);
  impl->settings = settings;
  impl->timeouts = Timeouts::from(settings);
  impl->global = std::make_shared<Semaphore>(settings.max_connections);
  // Opportunistic TLS [RFC 7435]: any certificate; TLS 1.2 or later (OpenSSL's defaults).
  impl->opportunistic_tls = client_context();
  impl->smarthost_tls = client_context();
  impl->dane_tls = client_context();
  if (!enable_dane(impl->dane_tls->native_handle())) return make_error(Errc::kInternal, "cannot enable DANE in OpenSSL");
  boost::system::error_code ec;
  impl->pkix_tls = client_context();
  if (!settings.tls_ca_file.empty()) {
    impl->pkix_tls->load_verify_file(settings.tls_ca_file.string(), ec);
    if (ec) return make_error(Errc::kInvalid, "delivery.tls_ca_file: cannot load " + settings.tls_ca_file.string());
  } else {
    impl->pkix_tls->set_default_verify_paths(ec);
  }
  auto fetcher = std::make_shared<mta_sts::HttpsPolicyFetcher>(impl->resolver, impl->pkix_tls, settings.mta_sts_port,
                                                               settings.mta_sts_timeout, settings.ipv6);
  impl->sts = std::make_shared<mta_sts::PolicyStore>(impl->resolver, std::move(fetcher),
                                                     data_dir.empty() ? data_dir : data_dir / "mta-sts");
  if (!settings.smarthost.ca_file.empty()) {
    impl->smarthost_tls->load_verify_file(settings.smarthost.ca_file.string(), ec);
    if (ec) {
      return make_error(Errc::kInvalid,
                        "delivery.smarthost.ca_file: cannot load " + settings.smarthost.ca_file.string());
    }
    // A self-signed server certificate listed in ca_file is trusted as is.
    X509_STORE_set_flags(SSL_CTX_get_cert_store(impl->smarthost_tls->native_handle()), X509_V_FLAG_PARTIAL_CHAIN);
  } else {
    impl->smarthost_tls->set_default_verify_paths(ec);
  }
  return std::shared_ptr<DeliveryAgent>(new DeliveryAgent(std::move(impl)));
}

DeliveryAgent::~DeliveryAgent() = default;

asio::awaitable<DeliveryOutcome> DeliveryAgent::deliver(DeliveryJob job) {
  auto impl = impl_;  // the agent may be released while deliveries run
  co_return co_await impl->run(std::move(job));
}

asio::awaitable<void> DeliveryAgent::close_idle() {
  std::vector<std::shared_ptr<asio::steady_timer>> timers;
  {
    std::lock_guard lock(impl_->mutex);
    for (auto& [key, list] : impl_->pool) {
      for (auto& p : list) timers.push_back(p.timer);
    }
  }
  for (auto& t : timers) asio::post(t->get_executor(), [t] { t->cancel(); });
  co_return;
}

AgentStats DeliveryAgent::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace posthorn::smtpc
