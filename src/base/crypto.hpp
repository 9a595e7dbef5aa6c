// Small hashing helpers over OpenSSL used by several modules (SCRAM, the credentials cache, fake
// SCRAM salts, blob ids, message content hashes). Pure; thread-safe (Sha256 objects are not shared).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace posthorn {

// Raw 32-byte HMAC-SHA-256 of `data` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);

// Lower-case hex of the SHA-256 of `data` (64 characters).
std::string sha256_hex(std::string_view data);

// SHA-256 over data given in pieces (for content too large to hold at once).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex();  // finishes: lower-case hex, 64 characters; call once

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace posthorn
