// Password hashing and verification. New passwords: Argon2id (libargon2), stored in Dovecot's notation
// "{ARGON2ID}$argon2id$v=19$m=...". Verifies imported Dovecot hashes: {ARGON2ID}, {ARGON2I},
// {SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT} (libxcrypt crypt_r). Pure and thread-safe, but slow by
// design: call from the blocking pool, never an I/O thread.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "config/config.hpp"

namespace posthorn::auth {

// Returns "{ARGON2ID}$argon2id$v=19$m=<kib>,t=<it>,p=<par>$<salt>$<hash>" with a fresh 16-byte salt.
Result<std::string> hash_password(std::string_view password, const config::Argon2& params);

// True when `password` matches `stored` (a hash in any supported scheme, with its {SCHEME} prefix).
// An unknown scheme or a malformed hash never matches.
bool verify_password(std::string_view stored, std::string_view password);

// True when `stored` is in a supported scheme and well-formed (used by user import and tests).
bool is_supported_hash(std::string_view stored);

// A valid Argon2id hash of a random password, computed once; verifying against it costs the same as a
// real check, so unknown users take as long to reject as wrong passwords.
const std::string& dummy_hash(const config::Argon2& params);

}  // namespace posthorn::auth
