// Test keys for the msgauth tests: one RSA-2048 and one Ed25519 private key, generated once per test
// process with OpenSSL (so no private key is checked in) and handed out as PEM (PKCS#8).
// Header-only, used by *_test.cpp only. Thread-safe (function-local statics).
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>

namespace posthorn::msgauth::test_keys {

inline std::string to_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

inline const std::string& rsa2048_pem() {
  static const std::string pem = to_pem(EVP_RSA_gen(2048));
  return pem;
}

inline const std::string& ed25519_pem() {
  static const std::string pem = to_pem(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  return pem;
}

}  // namespace posthorn::msgauth::test_keys
