// TlsContext: the server's TLS policy and certificates. TLS 1.2+ only, modern AEAD ciphers, several
// certificates chosen by SNI (the first is the default), and reload (SIGHUP) that swaps in new
// certificates for new connections while existing ones keep theirs. The only TLS-facing module.
// Thread-safe: current() may be called from any thread while reload() runs.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "config/config.hpp"

namespace posthorn::net {

// One loaded certificate set. Connections hold a shared_ptr to the set they started with.
struct TlsSet {
  struct Entry {
    std::unique_ptr<boost::asio::ssl::context> ctx;
    std::vector<std::string> names;  // DNS names from the certificate (SAN, else CN), lower-case
  };
  std::vector<Entry> entries;  // entries[0] is the default
  boost::asio::ssl::context& default_context() { return *entries.front().ctx; }
};

class TlsContext {
 public:
  // Loads and checks every certificate: files readable, PEM valid, key matches certificate.
  // Errc::kInvalid with a message naming the file on any problem.
  static Result<std::shared_ptr<TlsContext>> load(const config::Tls& settings);
  static Result<std::shared_ptr<TlsSet>> build(const config::Tls& settings);

  // The set new connections use.
  std::shared_ptr<TlsSet> current() const;
  // Loads `settings` again and swaps it in; on error the current set stays and the error is returned.
  Result<void> reload(const config::Tls& settings);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<TlsSet> current_;
};

// Writes a self-signed certificate (RSA 2048, SHA-256, SAN = hostname and localhost, 10 years) and
// its key (mode 0600). Used by `posthorn init`.
Result<void> write_self_signed(const std::string& hostname, const std::filesystem::path& cert_file,
                               const std::filesystem::path& key_file);

}  // namespace posthorn::net
