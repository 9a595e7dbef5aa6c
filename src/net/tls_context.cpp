#include "net/tls_context.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fmt/format.h>

#include "base/ascii.hpp"
#include "base/random.hpp"

namespace posthorn::net {

namespace ssl = boost::asio::ssl;

namespace {

// Mozilla "intermediate" TLS 1.2 suites: forward secrecy and AEAD only.
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

std::vector<std::string> certificate_names(const std::filesystem::path& file) {
  std::vector<std::string> names;
  FILE* f = std::fopen(file.c_str(), "r");
  if (!f) return names;
  X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr), X509_free);
  std::fclose(f);
  if (!cert) return names;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_DNS) {
        const auto* s = gn->d.dNSName;
        names.push_back(ascii::lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                      size_t(ASN1_STRING_length(s)))));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    char cn[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn) > 0) {
      names.push_back(ascii::lower(cn));
    }
  }
  return names;
}

bool name_matches(std::string_view pattern, std::string_view host) {
  if (pattern == host) return true;
  if (pattern.starts_with("*.")) {
    auto dot = host.find('.');
    return dot != std::string_view::npos && host.substr(dot) == pattern.substr(1);
  }
  return false;
}

// SNI: switch the handshake to the certificate whose names match the requested host.
int on_servername(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  auto* set = static_cast<TlsSet*>(arg);
  const std::string host = ascii::lower(name);
  for (auto& entry : set->entries) {
    for (const auto& n : entry.names) {
      if (name_matches(n, host)) {
        if (entry.ctx->native_handle() != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, entry.ctx->native_handle());
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_OK;  // unknown name: the default certificate
}

}  // namespace

Result<std::shared_ptr<TlsSet>> TlsContext::build(const config::Tls& settings) {
  if (settings.certificates.empty()) return make_error(Errc::kInvalid, "tls.certificates: no certificate configured");
  auto set = std::make_shared<TlsSet>();
  for (size_t i = 0; i < settings.certificates.size(); ++i) {
    const auto& c = settings.certificates[i];
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    ERR_clear_error();
    SSL_CTX_set_min_proto_version(native, settings.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_SINGLE_DH_USE |
                                    SSL_OP_SINGLE_ECDH_USE);
    SSL_CTX_set_dh_auto(native, 1);
    const std::string ciphers = settings.ciphers.empty() ? kDefaultCiphers : settings.ciphers;
    if (SSL_CTX_set_cipher_list(native, ciphers.c_str()) != 1) {
      return make_error(Errc::kInvalid, fmt::format("tls.ciphers: {}", openssl_error()));
    }
    if (!settings.ciphersuites.empty() && SSL_CTX_set_ciphersuites(native, settings.ciphersuites.c_str()) != 1) {
      return make_error(Errc::kInvalid, fmt::format("tls.ciphersuites: {}", openssl_error()));
    }
    if (SSL_CTX_use_certificate_chain_file(native, c.cert.c_str()) != 1) {
      return make_error(Errc::kInvalid,
                        fmt::format("tls.certificates[{}].cert: cannot load {}: {}", i, c.cert.string(), openssl_error()));
    }
    if (SSL_CTX_use_PrivateKey_file(native, c.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return make_error(Errc::kInvalid,
                        fmt::format("tls.certificates[{}].key: cannot load {}: {}", i, c.key.string(), openssl_error()));
    }
    if (SSL_CTX_check_private_key(native) != 1) {
      return make_error(Errc::kInvalid, fmt::format("tls.certificates[{}]: key {} does not match certificate {}", i,
                                                    c.key.string(), c.cert.string()));
    }
    SSL_CTX_set_tlsext_servername_callback(native, on_servername);
    SSL_CTX_set_tlsext_servername_arg(native, set.get());
    set->entries.push_back(TlsSet::Entry{std::move(ctx), certificate_names(c.cert)});
  }
  return set;
}

Result<std::shared_ptr<TlsContext>> TlsContext::load(const config::Tls& settings) {
  auto set = build(settings);
  if (!set) return set.error();
  auto ctx = std::make_shared<TlsContext>();
  ctx->current_ = std::move(*set);
  return ctx;
}

std::shared_ptr<TlsSet> TlsContext::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

Result<void> TlsContext::reload(const config::Tls& settings) {
  auto set = build(settings);
  if (!set) return set.error();
  std::lock_guard lock(mutex_);
  current_ = std::move(*set);
  return {};
}

Result<void> write_self_signed(const std::string& hostname, const std::filesystem::path& cert_file,
                               const std::filesystem::path& key_file) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), EVP_PKEY_free);
  if (!key) return make_error(Errc::kInternal, "cannot generate an RSA key: " + openssl_error());
  X509Ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  std::string serial = random_bytes(16);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), int(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string san = "DNS:" + hostname;
  if (hostname != "localhost") san += ",DNS:localhost";
  san += ",IP:127.0.0.1,IP:::1";
  const std::pair<int, std::string> exts[] = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_alt_name, san},
  };
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!ext) return make_error(Errc::kInternal, "cannot build certificate extension: " + openssl_error());
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return make_error(Errc::kInternal, "cannot sign certificate: " + openssl_error());
  }
  int kfd = ::open(key_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (kfd < 0) return make_error(Errc::kDenied, "cannot write " + key_file.string());
  FILE* kf = fdopen(kfd, "w");
  bool ok = PEM_write_PrivateKey(kf, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  ok = (std::fflush(kf) == 0) && ok;
  std::fclose(kf);
  if (!ok) return make_error(Errc::kInternal, "cannot write " + key_file.string());
  FILE* cf = std::fopen(cert_file.c_str(), "w");
  if (!cf) return make_error(Errc::kDenied, "cannot write " + cert_file.string());
  ok = PEM_write_X509(cf, cert.get()) == 1;
  std::fclose(cf);
  if (!ok) return make_error(Errc::kInternal, "cannot write " + cert_file.string());
  return {};
}

}  // namespace posthorn::net
