// Whole-session fuzz target: an in-process IMAP session (server/imap) with a fresh store holding three
// messages, fed the fuzzer's bytes over a socketpair in fuzzer-chosen chunks. Byte 0 picks the state
// the input starts in, reached by a fixed prefix: 0 not authenticated, 1 authenticated (LOGIN),
// 2 selected (LOGIN, SELECT INBOX), 3 selected read-only with QRESYNC enabled. The rest is the
// Chunker layout (fuzz_util.hpp). Depends on server/imap and the session world; one thread.
#include <string>

#include "fuzz_util.hpp"
#include "server/imap/imap_session.hpp"
#include "session_world.hpp"

using namespace posthorn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto& world = fuzz::SessionWorld::get();
  const int state = data[0] % 4;
  fuzz::Chunker chunker(data + 1, size - 1);

  std::string prefix;
  if (state >= 1) prefix += std::string("p1 LOGIN ") + fuzz::kUser + " " + fuzz::kPassword + "\r\n";
  if (state == 2) prefix += "p2 SELECT INBOX\r\n";
  if (state == 3) prefix += "p2 ENABLE QRESYNC\r\np3 EXAMINE INBOX (QRESYNC (1 1))\r\n";

  auto store = world.fresh_store();
  server::imap::ImapContext ctx;
  ctx.config = world.harness().config();
  ctx.listener = config::Listener{.name = "imap-fuzz", .protocol = Proto::kImap, .address = "127.0.0.1", .port = 143,
                                  .tls = config::TlsMode::kStartTls, .sasl_mechanisms = {}};
  ctx.auth = &world.harness().authenticator();
  ctx.tls = world.harness().tls();
  ctx.store = store->mail.get();
  fuzz::run_over_socketpair(
      Proto::kImap, [ctx](net::Accepted accepted) { return server::imap::run_session(std::move(accepted), ctx); },
      prefix, chunker.chunks());
  return 0;
}
