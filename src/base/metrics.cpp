#include "base/metrics.hpp"

#include <fmt/format.h>

namespace posthorn {

std::string_view proto_name(Proto p) {
  switch (p) {
    case Proto::kSmtp: return "smtp";
    case Proto::kSubmission: return "submission";
    case Proto::kLmtp: return "lmtp";
    case Proto::kImap: return "imap";
    case Proto::kPop3: return "pop3";
    case Proto::kAdmin: return "admin";
    case Proto::kCount: break;
  }
  return "unknown";
}

Metrics& Metrics::global() {
  static Metrics m;
  return m;
}

std::string Metrics::render_prometheus() const {
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help, const auto& arr,
                    std::string_view extra_label = {}) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (size_t i = 0; i < size_t(Proto::kCount); ++i) {
      fmt::format_to(std::back_inserter(out), "{}{{protocol=\"{}\"{}}} {}\n", name, proto_name(Proto(i)),
                     extra_label, arr[i].load());
    }
  };
  family("posthorn_connections_total", "counter", "Connections accepted.", conn_total_);
  family("posthorn_connections_active", "gauge", "Connections open now.", conn_active_);
  family("posthorn_connections_rejected_total", "counter", "Connections refused by a connection limit.",
         conn_rejected_);
  family("posthorn_auth_success_total", "counter", "Successful authentications.", auth_ok_);
  family("posthorn_auth_failure_total", "counter", "Failed authentications.", auth_fail_);
  family("posthorn_tls_handshakes_total", "counter", "Completed TLS handshakes.", tls_ok_);
  family("posthorn_tls_handshake_failures_total", "counter", "Failed TLS handshakes.", tls_fail_);
  fmt::format_to(std::back_inserter(out),
                 "# HELP posthorn_credential_cache_total Verified-credentials cache lookups.\n"
                 "# TYPE posthorn_credential_cache_total counter\n"
                 "posthorn_credential_cache_total{{result=\"hit\"}} {}\n"
                 "posthorn_credential_cache_total{{result=\"miss\"}} {}\n",
                 cache_hits_.load(), cache_misses_.load());
  fmt::format_to(std::back_inserter(out),
                 "# HELP posthorn_queue_scans_total Scans of the outbound queue for due entries.\n"
                 "# TYPE posthorn_queue_scans_total counter\nposthorn_queue_scans_total {}\n"
                 "# HELP posthorn_queue_deliveries_active Queue entries being delivered now.\n"
                 "# TYPE posthorn_queue_deliveries_active gauge\nposthorn_queue_deliveries_active {}\n",
                 queue_scans_.load(), queue_deliveries_.load());
  fmt::format_to(std::back_inserter(out),
                 "# HELP posthorn_blob_gc_runs_total Garbage collections of the mail store's message files.\n"
                 "# TYPE posthorn_blob_gc_runs_total counter\nposthorn_blob_gc_runs_total {}\n"
                 "# HELP posthorn_blob_gc_blobs_removed_total Message files no message referred to, removed.\n"
                 "# TYPE posthorn_blob_gc_blobs_removed_total counter\nposthorn_blob_gc_blobs_removed_total {}\n"
                 "# HELP posthorn_blob_gc_bytes_freed_total Bytes of the message files removed.\n"
                 "# TYPE posthorn_blob_gc_bytes_freed_total counter\nposthorn_blob_gc_bytes_freed_total {}\n",
                 gc_runs_.load(), gc_blobs_.load(), gc_bytes_.load());
  fmt::format_to(std::back_inserter(out),
                 "# HELP posthorn_db_connects_total Connections opened to the shared database (PostgreSQL).\n"
                 "# TYPE posthorn_db_connects_total counter\n"
                 "posthorn_db_connects_total{{result=\"ok\"}} {}\n"
                 "posthorn_db_connects_total{{result=\"failed\"}} {}\n"
                 "# HELP posthorn_db_connections_lost_total Database connections that broke during a statement.\n"
                 "# TYPE posthorn_db_connections_lost_total counter\nposthorn_db_connections_lost_total {}\n",
                 db_connects_.load(), db_connect_failures_.load(), db_lost_.load());
  return out;
}

}  // namespace posthorn
