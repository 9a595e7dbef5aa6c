// Small hashing helpers over OpenSSL used by several modules (SCRAM, the credentials cache, fake
// SCRAM salts). Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace posthorn {

// Raw 32-byte HMAC-SHA-256 of `data` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace posthorn
