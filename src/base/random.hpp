// Cryptographically secure random bytes (OpenSSL RAND_bytes). Thread-safe.
#pragma once

#include <string>

namespace posthorn {

std::string random_bytes(size_t n);
// n random characters from [A-Za-z0-9], for generated passwords and ids.
std::string random_token(size_t n);

}  // namespace posthorn
