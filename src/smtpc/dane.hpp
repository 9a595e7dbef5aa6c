// DANE for SMTP [RFC 7672]: which TLSA records are usable, and the OpenSSL settings that make a TLS
// handshake authenticate the server with them. Only DANE-TA(2) and DANE-EE(3) are usable for SMTP
// (RFC 7672 §3.1: PKIX-TA(0) and PKIX-EE(1) are not); selectors Cert(0)/SPKI(1); matching types
// Full(0), SHA2-256(1), SHA2-512(2) with data of the right length. DANE-EE matches ignore names and
// dates (RFC 7672 §3.1.1); DANE-TA chains must name the MX host (RFC 7672 §3.2.3). CNAME-expanded
// names are not added: the reference identifier is the MX host name as listed in the MX record.
// Depends on dns/resolver.hpp (Tlsa) and OpenSSL. Thread-safe: pure functions; the returned setup
// function may be called from any thread.
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <string>
#include <vector>

#include "dns/resolver.hpp"

namespace posthorn::smtpc {

// The records of `all` that RFC 7672 lets SMTP use, in order.
std::vector<dns::Tlsa> usable_tlsa(const std::vector<dns::Tlsa>& all);

// Enables DANE on a client context (SSL_CTX_dane_enable). False on failure.
bool enable_dane(SSL_CTX* ctx);

// The setup for Connection::start_tls_client: DANE with `records` (usable ones) and `host` as the
// reference identifier, peer verification on. False (handshake refused) when no record could be
// added.
std::function<bool(SSL*)> dane_setup(std::vector<dns::Tlsa> records, std::string host);

// "_25._tcp.mx.example.com"
std::string tlsa_name(uint16_t port, const std::string& host);

}  // namespace posthorn::smtpc
