// Cryptographically secure random bytes (OpenSSL RAND_bytes). Thread-safe.
#pragma once

#include <string>

namespace posthorn {

std::string random_bytes(size_t n);
// n random characters from [A-Za-z0-9], for generated passwords and ids.
std::string random_token(size_t n);
// `bytes` random bytes as 2*bytes lower-case hex digits (queue ids, Message-IDs, transaction ids).
std::string random_hex(size_t bytes);

}  // namespace posthorn
