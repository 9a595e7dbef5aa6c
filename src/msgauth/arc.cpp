// ARC verification and sealing (see arc.hpp). The AMS and AS are checked and made with DKIM's
// building blocks (dkim_internal.hpp); what is ARC's own is the chain: collecting the sets by
// instance, the structural rules, and the seal's signed content [RFC 8617 §5.1].
#include "msgauth/arc.hpp"

#include <array>
#include <map>
#include <optional>

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "mime/header.hpp"
#include "msgauth/auth_results.hpp"
#include "msgauth/canon.hpp"
#include "msgauth/dkim.hpp"
#include "msgauth/dkim_internal.hpp"

namespace posthorn::msgauth {
namespace {

using namespace dkim_detail;

constexpr std::string_view kAar = "ARC-Authentication-Results";
constexpr std::string_view kAms = "ARC-Message-Signature";
constexpr std::string_view kAs = "ARC-Seal";

struct ArcSet {
  const RawField* aar = nullptr;
  const RawField* ams = nullptr;
  const RawField* as = nullptr;
};

// The ARC sets of a message by instance, or why they do not form a chain.
struct Chain {
  std::array<ArcSet, kMaxArcSets> sets{};  // sets[i - 1]
  int n = 0;                               // highest instance seen
  bool any = false;                        // some ARC field exists
  std::string error;                       // structural problem (empty: none)
  int error_instance = 0;
};

std::string_view field_value(std::string_view raw) {
  auto colon = raw.find(':');
  return colon == std::string_view::npos ? std::string_view() : raw.substr(colon + 1);
}

// The instance of an AAR: its value starts "i=<digits>;" (the rest is Authentication-Results
// syntax, not a tag list).
std::optional<uint64_t> aar_instance(std::string_view value) {
  auto semi = value.find(';');
  if (semi == std::string_view::npos) return std::nullopt;
  auto spec = trim_fws(value.substr(0, semi));
  auto eq = spec.find('=');
  if (eq == std::string_view::npos || trim_fws(spec.substr(0, eq)) != "i") return std::nullopt;
  return parse_number(trim_fws(spec.substr(eq + 1)), 2);
}

std::optional<uint64_t> tag_instance(std::string_view value) {
  std::string why;
  auto tags = parse_tags(value, why);
  const Tag* i = tags ? tags->find("i") : nullptr;
  if (!i) return std::nullopt;
  return parse_number(i->value, 2);
}

Chain collect(const std::vector<RawField>& fields) {
  Chain c;
  auto fail = [&](std::string why, int instance) {
    if (c.error.empty()) {
      c.error = std::move(why);
      c.error_instance = instance;
    }
  };
  for (const auto& f : fields) {
    bool aar = ascii::iequals(f.name, kAar), ams = ascii::iequals(f.name, kAms), as = ascii::iequals(f.name, kAs);
    if (!aar && !ams && !as) continue;
    c.any = true;
    std::string_view name = aar ? kAar : ams ? kAms : kAs;
    auto value = field_value(f.raw);
    auto i = aar ? aar_instance(value) : tag_instance(value);
    if (!i || *i == 0) {
      fail(std::string(name) + " without a valid i=", 0);
      continue;
    }
    if (*i > uint64_t(kMaxArcSets)) {
      fail("more than " + std::to_string(kMaxArcSets) + " ARC sets (i=" + std::to_string(*i) + ")", 0);
      continue;
    }
    int instance = int(*i);
    c.n = std::max(c.n, instance);
    auto& set = c.sets[std::size_t(instance - 1)];
    const RawField*& slot = aar ? set.aar : ams ? set.ams : set.as;
    if (slot) {
      fail("more than one " + std::string(name) + " with i=" + std::to_string(instance), instance);
      continue;
    }
    slot = &f;
  }
  for (int i = 1; i <= c.n && c.error.empty(); ++i) {
    const auto& set = c.sets[std::size_t(i - 1)];
    if (!set.aar && !set.ams && !set.as)
      fail("ARC set i=" + std::to_string(i) + " is missing", 0);
    else if (!set.aar || !set.ams || !set.as)
      fail("ARC set i=" + std::to_string(i) + " is incomplete", i);
  }
  return c;
}

std::optional<TagList> tags_of(const RawField& f, std::string& why) {
  if (f.raw.size() > kMaxSignatureField) {
    why = "field is too long";
    return std::nullopt;
  }
  return parse_tags(field_value(f.raw), why);
}

// Checks the tags common to AMS and AS; sets `key_name` and the decoded b=.
bool common_tags(const TagList& tags, std::string& key_name, std::string& b, std::string& why) {
  auto get = [&](std::string_view n) { return tags.find(n) ? tags.find(n)->value : std::string_view(); };
  if (get("a") != "rsa-sha256") {
    why = "unsupported algorithm a=" + std::string(get("a"));
    return false;
  }
  if (!valid_dns_name(get("d")) || !valid_dns_name(get("s"))) {
    why = "malformed d= or s=";
    return false;
  }
  auto decoded = base64::decode(strip_fws(get("b")));
  if (!decoded || decoded->empty()) {
    why = "malformed b=";
    return false;
  }
  b = std::move(*decoded);
  key_name = std::string(get("s")) + "._domainkey." + std::string(get("d"));
  return true;
}

// The seal input for the complete sets 1..upto [RFC 8617 §5.1]: AAR, AMS, AS of each instance
// in order, relaxed.
std::string sets_data(const Chain& chain, int upto) {
  std::string data;
  for (int k = 1; k <= upto; ++k) {
    const auto& set = chain.sets[std::size_t(k - 1)];
    data += canon_header(set.aar->raw, Canon::kRelaxed);
    data += canon_header(set.ams->raw, Canon::kRelaxed);
    data += canon_header(set.as->raw, Canon::kRelaxed);
  }
  return data;
}

// Per-verification state: the message, and keys and body hashes already computed.
struct Verifier {
  std::vector<RawField> fields;
  std::string_view body;
  dns::Resolver& resolver;
  int64_t now;
  std::map<std::string, KeyFetch> keys;
  BodyHashCache bodies;

  // The key for `key_name`, looked up once per verification. Null with `why` when there is none.
  boost::asio::awaitable<const PublicKey*> key(const std::string& key_name, std::string& why) {
    auto it = keys.find(key_name);
    if (it == keys.end()) {
      auto fetched = co_await fetch_public_key(resolver, key_name, DkimAlgorithm::kRsaSha256);
      it = keys.emplace(key_name, std::move(fetched)).first;
    }
    if (!it->second.key) {
      why = it->second.status == DkimStatus::kTempError ? it->second.why + " (temporary)" : it->second.why;
      co_return nullptr;
    }
    co_return &*it->second.key;
  }

  // Verifies an ARC-Message-Signature like a DKIM signature [RFC 8617]: "" on pass, else why.
  boost::asio::awaitable<std::string> ams(const RawField& field) {
    std::string why;
    auto tags = tags_of(field, why);
    if (!tags) co_return "malformed ARC-Message-Signature: " + why;
    for (auto req : {"i", "a", "b", "bh", "d", "h", "s"})
      if (!tags->find(req)) co_return std::string("ARC-Message-Signature without ") + req + "=";
    std::string key_name, b;
    if (!common_tags(*tags, key_name, b, why)) co_return "ARC-Message-Signature: " + why;
    Canon hc = Canon::kSimple, bc = Canon::kSimple;  // DKIM's default, as AMS uses DKIM syntax
    if (const Tag* c = tags->find("c"); c && !parse_canon(c->value, hc, bc))
      co_return "ARC-Message-Signature: unknown canonicalization c=" + std::string(c->value);
    auto h = colon_list(tags->find("h")->value);
    if (h.size() > kMaxSignedHeaders) co_return std::string("ARC-Message-Signature h= is too long");
    for (auto name : h) {
      if (name.empty()) co_return std::string("ARC-Message-Signature has an empty name in h=");
      if (ascii::iequals(name, kAs)) co_return std::string("ARC-Message-Signature signs ARC-Seal (RFC 8617 forbids it)");
    }
    std::optional<uint64_t> limit;
    if (const Tag* l = tags->find("l"); l && !(limit = parse_number(l->value, 18)))
      co_return std::string("ARC-Message-Signature has a malformed l=");
    if (const Tag* x = tags->find("x")) {
      auto expiry = parse_number(x->value, 18);
      if (!expiry) co_return std::string("ARC-Message-Signature has a malformed x=");
      if (now > 0 && uint64_t(now) > *expiry) co_return std::string("ARC-Message-Signature expired");
    }
    auto bh = base64::decode(strip_fws(tags->find("bh")->value));
    if (!bh) co_return std::string("ARC-Message-Signature has a malformed bh=");
    const PublicKey* pk = co_await key(key_name, why);
    if (!pk) co_return why;
    const auto& hash = bodies.get(body, bc, limit);
    if (limit && *limit > hash.canonical_length) co_return std::string("ARC-Message-Signature l= is longer than the body");
    if (hash.digest != *bh) co_return std::string("ARC-Message-Signature body hash mismatch");
    auto data = signed_headers_data(fields, h, hc);
    append_signature_field(data, field.raw, hc);
    if (!verify_data(pk->pkey.get(), DkimAlgorithm::kRsaSha256, data, b))
      co_return std::string("ARC-Message-Signature did not verify");
    co_return std::string();
  }

  // Verifies the ARC-Seal of instance `i` [RFC 8617 §5.1]: "" on pass, else why.
  boost::asio::awaitable<std::string> seal(const Chain& chain, int i) {
    const RawField& field = *chain.sets[std::size_t(i - 1)].as;
    std::string why;
    auto tags = tags_of(field, why);
    if (!tags) co_return "malformed ARC-Seal: " + why;
    for (auto req : {"i", "a", "b", "cv", "d", "s"})
      if (!tags->find(req)) co_return std::string("ARC-Seal without ") + req + "=";
    if (tags->find("h")) co_return std::string("ARC-Seal with h= (RFC 8617 forbids it)");
    std::string key_name, b;
    if (!common_tags(*tags, key_name, b, why)) co_return "ARC-Seal: " + why;
    const PublicKey* pk = co_await key(key_name, why);
    if (!pk) co_return why;
    const auto& set = chain.sets[std::size_t(i - 1)];
    auto data = sets_data(chain, i - 1) + canon_header(set.aar->raw, Canon::kRelaxed) +
                canon_header(set.ams->raw, Canon::kRelaxed);
    append_signature_field(data, field.raw, Canon::kRelaxed);
    if (!verify_data(pk->pkey.get(), DkimAlgorithm::kRsaSha256, data, b)) co_return std::string("ARC-Seal did not verify");
    co_return std::string();
  }

};

ArcResult fail(ArcResult r, int instance, std::string why) {
  r.status = ArcChainStatus::kFail;
  r.failed_instance = instance;
  r.reason = std::move(why);
  return r;
}

// cv= of the seal of instance i (lower case; "" when absent), or nullopt with `why` when the seal
// is unreadable.
std::optional<std::string> seal_cv(const Chain& chain, int i, std::string& why) {
  auto tags = tags_of(*chain.sets[std::size_t(i - 1)].as, why);
  if (!tags) return std::nullopt;
  const Tag* cv = tags->find("cv");
  return cv ? ascii::lower(cv->value) : std::string();
}

bool newest_seal_failed(const Chain& chain) {
  std::string why;
  return chain.n > 0 && chain.sets[std::size_t(chain.n - 1)].as && seal_cv(chain, chain.n, why).value_or("") == "fail";
}

}  // namespace

std::string_view chain_status_word(ArcChainStatus s) {
  switch (s) {
    case ArcChainStatus::kNone: return "none";
    case ArcChainStatus::kPass: return "pass";
    case ArcChainStatus::kFail: return "fail";
  }
  return "fail";
}

boost::asio::awaitable<ArcResult> arc_verify(std::string_view message, dns::Resolver& resolver, int64_t now) {
  Verifier v{split_raw_fields(message), message.substr(mime::split_header(message).body_start), resolver, now, {}, {}};
  ArcResult r;
  auto chain = collect(v.fields);
  if (!chain.any) {
    r.reason = "no ARC sets";
    co_return r;
  }
  r.instances = chain.n;
  if (!chain.error.empty()) co_return fail(r, chain.error_instance, chain.error);
  // cv= [RFC 8617 §5.2]: the newest seal must not report a failed chain; i=1 says none,
  // every later seal says pass.
  for (int i = chain.n; i >= 1; --i) {
    std::string why;
    auto read = seal_cv(chain, i, why);
    if (!read) co_return fail(r, i, "malformed ARC-Seal: " + why);
    const auto& cv = *read;
    if (i == chain.n && cv == "fail") co_return fail(r, i, "the chain was marked failed at i=" + std::to_string(i));
    if (i == 1 && cv != "none") co_return fail(r, i, "ARC-Seal i=1 has cv=" + cv + ", not none");
    if (i > 1 && cv != "pass") co_return fail(r, i, "ARC-Seal i=" + std::to_string(i) + " has cv=" + cv + ", not pass");
  }
  auto newest = co_await v.ams(*chain.sets[std::size_t(chain.n - 1)].ams);
  if (!newest.empty()) co_return fail(r, chain.n, newest);
  for (int i = chain.n; i >= 1; --i) {
    auto why = co_await v.seal(chain, i);
    if (!why.empty()) co_return fail(r, i, why);
  }
  // oldest-pass [RFC 8617 §5.2]: the older AMSs, newest first, until one does not verify.
  for (int i = chain.n - 1; i >= 1; --i) {
    auto why = co_await v.ams(*chain.sets[std::size_t(i - 1)].ams);
    if (!why.empty()) {
      r.oldest_pass = i + 1;
      break;
    }
  }
  r.status = ArcChainStatus::kPass;
  co_return r;
}

std::string arc_auth_results_method(const ArcResult& result, std::string_view remote_ip) {
  std::string out = "arc=" + std::string(chain_status_word(result.status));
  if (result.status == ArcChainStatus::kFail && !result.reason.empty())
    out += " reason=" + auth_results_pvalue(result.reason);
  if (result.status == ArcChainStatus::kPass) out += " header.oldest-pass=" + std::to_string(result.oldest_pass);
  if (!remote_ip.empty()) out += " smtp.remote-ip=" + auth_results_pvalue(remote_ip);
  return out;
}

std::string arc_seal(std::string_view message, const DkimSigner& keys, std::string_view domain,
                     std::string_view authserv_id, std::string_view auth_results_payload, ArcChainStatus cv,
                     int64_t now) {
  auto selector = keys.rsa_selector(domain);
  if (selector.empty()) return "";
  auto fields = split_raw_fields(message);
  auto chain = collect(fields);
  if (chain.n == 0) cv = ArcChainStatus::kNone;  // the first seal says none
  if (chain.n >= kMaxArcSets) return "";
  if (cv == ArcChainStatus::kNone && chain.n > 0) return "";
  // A chain that is already terminated is never extended; one we seal on as passing must be whole.
  if (newest_seal_failed(chain) || (cv != ArcChainStatus::kFail && !chain.error.empty())) return "";
  auto instance = std::to_string(chain.n + 1);
  auto d = ascii::lower(domain);
  auto sign = [&](std::string_view data) { return keys.rsa_sign(d, data); };

  // AAR: our Authentication-Results payload, folded between words when it comes unfolded.
  Folder aar_f(std::string(kAar) + ":");
  aar_f.add("i=" + instance + ";", true);
  aar_f.add(std::string(authserv_id) + ";", true);
  std::string_view payload = auth_results_payload.empty() ? std::string_view("none") : auth_results_payload;
  std::string aar;
  if (payload.find_first_of("\r\n") == std::string_view::npos) {
    for (auto word : ascii::split(payload, ' '))
      if (!word.empty()) aar_f.add(word, true);
    aar = aar_f.text() + "\r\n";
  } else {
    aar = aar_f.text() + " " + std::string(payload);
    if (!aar.ends_with("\r\n")) aar += "\r\n";
  }

  // AMS: a DKIM-like signature, relaxed/relaxed, over the headers DkimSigner signs and the body.
  auto names = default_signed_names(fields);
  std::vector<std::string_view> h(names.begin(), names.end());
  auto body = message.substr(mime::split_header(message).body_start);
  Folder ams_f(std::string(kAms) + ":");
  ams_f.add("i=" + instance + ";", true);
  ams_f.add("a=rsa-sha256;", true);
  ams_f.add("c=relaxed/relaxed;", true);
  ams_f.add("d=" + d + ";", true);
  ams_f.add("s=" + selector + ";", true);
  ams_f.add("t=" + std::to_string(now) + ";", true);
  add_h_tag(ams_f, h);
  ams_f.add("bh=" + base64::encode(body_hash(body, Canon::kRelaxed, std::nullopt).digest) + ";", true);
  auto ams = complete_signature(std::move(ams_f), signed_headers_data(fields, h, Canon::kRelaxed), sign);
  if (!ams) return "";

  // AS over the sets 1..N and our AAR and AMS; with cv=fail over our set only.
  std::string data = cv == ArcChainStatus::kFail ? std::string() : sets_data(chain, chain.n);
  data += canon_header(aar, Canon::kRelaxed);
  data += canon_header(*ams, Canon::kRelaxed);
  Folder as_f(std::string(kAs) + ":");
  as_f.add("i=" + instance + ";", true);
  as_f.add("a=rsa-sha256;", true);
  as_f.add("cv=" + std::string(chain_status_word(cv)) + ";", true);
  as_f.add("d=" + d + ";", true);
  as_f.add("s=" + selector + ";", true);
  as_f.add("t=" + std::to_string(now) + ";", true);
  auto as = complete_signature(std::move(as_f), data, sign);
  if (!as) return "";
  return *as + *ams + aar;
}

}  // namespace posthorn::msgauth
