// Base64 (RFC 4648 §4) for SASL exchanges. Hand-written because OpenSSL's EVP_DecodeBlock accepts
// whitespace and hides padding errors, and SASL needs strict decoding. Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace posthorn::base64 {

std::string encode(std::string_view bytes);
// Strict: only the standard alphabet, correct padding, no whitespace. nullopt on any violation.
std::optional<std::string> decode(std::string_view text);

}  // namespace posthorn::base64
