// DANE helpers (see dane.hpp).
#include "smtpc/dane.hpp"

namespace posthorn::smtpc {

std::vector<dns::Tlsa> usable_tlsa(const std::vector<dns::Tlsa>& all) {
  std::vector<dns::Tlsa> out;
  for (const auto& r : all) {
    if (r.usage != 2 && r.usage != 3) continue;  // PKIX-TA/PKIX-EE are unusable for SMTP [RFC 7672 §3.1.3]
    if (r.selector > 1) continue;
    const bool length_ok = (r.matching_type == 0 && !r.data.empty()) || (r.matching_type == 1 && r.data.size() == 32) ||
                           (r.matching_type == 2 && r.data.size() == 64);
    if (!length_ok) continue;
    out.push_back(r);
  }
  return out;
}

bool enable_dane(SSL_CTX* ctx) { return SSL_CTX_dane_enable(ctx) > 0; }

std::function<bool(SSL*)> dane_setup(std::vector<dns::Tlsa> records, std::string host) {
  return [records = std::move(records), host = std::move(host)](SSL* ssl) {
    if (SSL_dane_enable(ssl, host.c_str()) <= 0) return false;
    // DANE-EE(3) authenticates the key itself: no name checks [RFC 7672 §3.1.1].
    SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    int added = 0;
    for (const auto& r : records) {
      const auto* data = reinterpret_cast<const unsigned char*>(r.data.data());
      if (SSL_dane_tlsa_add(ssl, r.usage, r.selector, r.matching_type, data, r.data.size()) > 0) ++added;
    }
    if (added == 0) return false;
    SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    return true;
  };
}

std::string tlsa_name(uint16_t port, const std::string& host) {
  return "_" + std::to_string(port) + "._tcp." + host;
}

}  // namespace posthorn::smtpc
