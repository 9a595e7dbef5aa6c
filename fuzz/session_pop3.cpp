// Whole-session fuzz target: an in-process POP3 session (server/pop3) with a fresh store holding three
// messages, fed the fuzzer's bytes over a socketpair in fuzzer-chosen chunks. Byte 0 picks the state
// the input starts in, reached by a fixed prefix: 0 AUTHORIZATION, 1 USER given, 2 TRANSACTION
// (USER/PASS), 3 TRANSACTION via AUTH PLAIN with UTF8 on. The rest is the Chunker layout
// (fuzz_util.hpp). Depends on server/pop3 and the session world; one thread.
#include <string>

#include "fuzz_util.hpp"
#include "server/pop3/pop3_session.hpp"
#include "session_world.hpp"

using namespace posthorn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto& world = fuzz::SessionWorld::get();
  const int state = data[0] % 4;
  fuzz::Chunker chunker(data + 1, size - 1);

  std::string prefix;
  if (state == 1 || state == 2) prefix += std::string("USER ") + fuzz::kUser + "\r\n";
  if (state == 2) prefix += std::string("PASS ") + fuzz::kPassword + "\r\n";
  if (state == 3) prefix += "UTF8\r\nAUTH PLAIN " + fuzz::plain_credentials() + "\r\n";

  auto store = world.fresh_store();
  static store::LocalMaildropLocks locks;
  server::pop3::Pop3Context ctx;
  ctx.config = world.harness().config();
  ctx.listener = config::Listener{"pop3-fuzz", Proto::kPop3, "127.0.0.1", 110, config::TlsMode::kStartTls, {}};
  ctx.auth = &world.harness().authenticator();
  ctx.tls = world.harness().tls();
  ctx.store = store->mail.get();
  ctx.locks = &locks;
  fuzz::run_over_socketpair(
      Proto::kPop3, [ctx](net::Accepted accepted) { return server::pop3::run_session(std::move(accepted), ctx); },
      prefix, chunker.chunks());
  return 0;
}
