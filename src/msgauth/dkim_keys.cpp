// DkimKeyStore helpers (see dkim_keys.hpp).
#include "msgauth/dkim_keys.hpp"

namespace posthorn::msgauth {

bool valid_dkim_selector(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

bool valid_dkim_domain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  for (std::size_t at = 0;;) {
    auto dot = d.find('.', at);
    if (!valid_dkim_selector(d.substr(at, dot == std::string_view::npos ? std::string_view::npos : dot - at))) return false;
    if (dot == std::string_view::npos) return true;
    at = dot + 1;
  }
}

Result<DkimSigner> signer_from(const std::vector<DkimKey>& keys) {
  DkimSigner signer;
  for (const auto& k : keys) {
    auto added = signer.add_key(k.domain, k.selector, k.pem);
    if (!added) return make_error(added.error().code, "DKIM key " + k.domain + "/" + k.selector + ": " + added.error().message);
  }
  return signer;
}

}  // namespace posthorn::msgauth
