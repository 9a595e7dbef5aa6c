// Whole-session fuzz target: an in-process SMTP session (server/smtp) with a fresh store and queue,
// fed the fuzzer's bytes over a socketpair in fuzzer-chosen chunks. Byte 0 picks the listener and the
// state the input starts in, reached by a fixed prefix:
//   0 MX, after the greeting             1 MX, in a transaction (EHLO, MAIL, RCPT to a local user)
//   2 submission, authenticated (AUTH)   3 submission, in a transaction to a remote recipient (queued)
//   4 LMTP, after LHLO                   5 MX, after DATA (the input is the message body)
// The rest is the Chunker layout (fuzz_util.hpp). No resolver: mail authentication checks are off.
// Depends on server/smtp and the session world; one thread.
#include <string>

#include "fuzz_util.hpp"
#include "server/smtp/smtp_session.hpp"
#include "session_world.hpp"

using namespace posthorn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto& world = fuzz::SessionWorld::get();
  const int state = data[0] % 6;
  fuzz::Chunker chunker(data + 1, size - 1);

  Proto protocol = Proto::kSmtp;
  std::string prefix;
  const std::string local_rcpt = std::string("RCPT TO:<") + fuzz::kUser + ">\r\n";
  switch (state) {
    case 0: break;
    case 1: prefix = "EHLO client.example\r\nMAIL FROM:<a@remote.example>\r\n" + local_rcpt; break;
    case 2:
      protocol = Proto::kSubmission;
      prefix = "EHLO client.example\r\nAUTH PLAIN " + fuzz::plain_credentials() + "\r\n";
      break;
    case 3:
      protocol = Proto::kSubmission;
      prefix = "EHLO client.example\r\nAUTH PLAIN " + fuzz::plain_credentials() + "\r\nMAIL FROM:<" + fuzz::kUser +
               ">\r\nRCPT TO:<x@remote.example>\r\n";
      break;
    case 4: protocol = Proto::kLmtp; prefix = "LHLO client.example\r\n"; break;
    case 5: prefix = "EHLO client.example\r\nMAIL FROM:<a@remote.example>\r\n" + local_rcpt + "DATA\r\n"; break;
  }

  auto store = world.fresh_store();
  auto cfg = std::make_shared<config::Config>(*world.harness().config());
  cfg->smtp.greeting_delay = std::chrono::milliseconds(0);  // pipelined input before the banner is fine here
  cfg->smtp.max_message_size = 64 * 1024;                   // small, so the size limit is reachable
  server::smtp::SmtpContext ctx;
  ctx.config = cfg;
  ctx.listener = config::Listener{std::string(proto_name(protocol)), protocol, "127.0.0.1", 25,
                                  config::TlsMode::kStartTls, {}};
  ctx.auth = &world.harness().authenticator();
  ctx.tls = world.harness().tls();
  ctx.store = store->mail.get();
  ctx.pool = &world.harness().pool();
  ctx.queue = store->queue.get();
  fuzz::run_over_socketpair(
      protocol, [ctx](net::Accepted accepted) { return server::smtp::run_session(std::move(accepted), ctx); }, prefix,
      chunker.chunks());
  return 0;
}
