// Fuzz target: the SASL messages a client controls before it is authenticated: SCRAM-SHA-256(-PLUS)
// client-first and client-final messages [RFC 5802, RFC 7677, RFC 9266] through ScramServer, base64
// as the sessions decode it, and stored SCRAM credentials text. Byte 0 sets the channel-binding
// options; the rest is "client-first NUL client-final NUL credentials". Oracle: a made-up proof is
// never accepted. PLAIN and LOGIN run inside the whole-session targets (they need the Authenticator).
// Depends on auth/scram.cpp and base; single-threaded.
#include <string>

#include "auth/scram.hpp"
#include "base/base64.hpp"
#include "fuzz_util.hpp"

using namespace posthorn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto next = [&rest]() {
    size_t nul = rest.find('\0');
    std::string_view part = rest.substr(0, nul);
    rest.remove_prefix(nul == std::string_view::npos ? rest.size() : nul + 1);
    return part;
  };
  std::string_view first = next();
  std::string_view final_message = next();
  std::string_view stored = next();

  (void)base64::decode(first);
  (void)base64::decode(final_message);
  auto parsed = auth::ScramCredentials::parse(stored);
  if (parsed) (void)parsed->serialize();

  auth::ScramServer::Options options;
  options.plus = flags & 1;
  options.channel_binding_available = flags & 2;
  if (flags & 4) options.tls_exporter = std::string(32, 'x');
  options.nonce = [] { return std::string("fuzznonce"); };
  auth::ScramServer server(options);
  auto user = server.client_first(first);
  if (!user) return 0;
  (void)server.authzid();
  // A few PBKDF2 rounds only: the fuzzer is after the parsing, not the hashing.
  auth::ScramCredentials credentials = auth::make_scram_credentials("pencil", "salt", 2);
  (void)server.server_first(credentials);
  auto done = server.client_final(final_message);
  // The proof is an HMAC of the whole exchange under a key the fuzzer does not know.
  if (done) fuzz::fail("SCRAM accepted a proof made up by the fuzzer");
  return 0;
}
