// Fuzz target: the config loader on arbitrary TOML text (toml++ parsing, then Posthorn's validation
// of every section). Oracle: a loaded config renders no crash when its helpers are called, and the
// errors are client-safe strings (non-empty). Depends on config only; single-threaded; touches no
// files (relative paths resolve against a folder that does not exist, nothing is opened).
#include <string>

#include "config/config.hpp"
#include "fuzz_util.hpp"

using namespace posthorn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = config::parse(text, "fuzz.toml", "/nonexistent/posthorn-fuzz");
  if (!loaded) {
    if (loaded.error().message.empty()) fuzz::fail("config error without a message");
    return 0;
  }
  const config::Config& c = **loaded;
  for (const auto& l : c.listeners) (void)config::tls_mode_name(l.tls);
  (void)config::pop3_policy_name(c.pop3.policy);
  auto policy = config::parse_pop3_policy(text);
  if (policy) {
    auto again = config::parse_pop3_policy(config::pop3_policy_name(*policy));
    if (!again || config::pop3_policy_name(*again) != config::pop3_policy_name(*policy))
      fuzz::fail("POP3 policy name round trip");
  }
  return 0;
}
