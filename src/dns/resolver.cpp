// Resolver helpers shared by the implementations: status names, MX ordering, wire names.
#include "dns/resolver.hpp"

#include <algorithm>

#include "base/ascii.hpp"

namespace posthorn::dns {

std::string_view status_name(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kNxDomain: return "NXDOMAIN";
    case Status::kNoData: return "no data";
    case Status::kTempFail: return "temporary failure";
  }
  return "unknown";
}

void finish_mx(MxAnswer& answer) {
  if (answer.status != Status::kOk) return;
  if (answer.records.size() == 1 && answer.records[0].host.empty() && answer.records[0].preference == 0) {
    answer.null_mx = true;
    return;
  }
  // RFC 7505 §4.3: a null MX mixed with real ones is a misconfiguration; skip the root target.
  std::erase_if(answer.records, [](const Mx& m) { return m.host.empty(); });
  std::stable_sort(answer.records.begin(), answer.records.end(),
                   [](const Mx& a, const Mx& b) { return a.preference < b.preference; });
  if (answer.records.empty()) answer.status = Status::kNoData;
}

bool read_wire_name(std::string_view wire, size_t& pos, std::string& out) {
  out.clear();
  for (int labels = 0; labels < 128; ++labels) {
    if (pos >= wire.size()) return false;
    const uint8_t len = uint8_t(wire[pos++]);
    if (len == 0) return out.size() <= 253;
    if (len > 63 || pos + len > wire.size()) return false;  // compression pointers are not expected here
    if (!out.empty()) out += '.';
    out += ascii::lower(wire.substr(pos, len));
    pos += len;
  }
  return false;
}

std::string reverse_name(const boost::asio::ip::address& ip) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  if (ip.is_v4()) {
    const auto b = ip.to_v4().to_bytes();
    for (size_t i = b.size(); i-- > 0;) out += std::to_string(b[i]) + ".";
    return out + "in-addr.arpa";
  }
  const auto b = ip.to_v6().to_bytes();
  for (size_t i = b.size(); i-- > 0;) {
    out += kHex[b[i] & 0xf];
    out += '.';
    out += kHex[b[i] >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

bool read_txt_rdata(std::string_view rdata, std::string& out) {
  out.clear();
  size_t pos = 0;
  while (pos < rdata.size()) {
    const size_t len = uint8_t(rdata[pos++]);
    if (pos + len > rdata.size()) return false;
    out.append(rdata.substr(pos, len));
    pos += len;
  }
  return true;
}

}  // namespace posthorn::dns
