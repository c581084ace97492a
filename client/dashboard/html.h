// HTML output of the dashboard: the one escaping function every value from the coordinator
// (sweep names, failure reasons, metric and parameter names, worker hosts, specs) goes through,
// and URL-component encoding for ids placed in links. Pure functions; thread-safe.
#ifndef HYPERSWEEP_CLIENT_DASHBOARD_HTML_H_
#define HYPERSWEEP_CLIENT_DASHBOARD_HTML_H_

#include <string>
#include <string_view>

namespace hypersweep::dashboard {

// `text` safe as HTML text and as a double- or single-quoted attribute value: & < > " ' become
// entities. Bytes that are not valid UTF-8 and control characters other than tab, newline and
// carriage return become U+FFFD, so nothing can smuggle markup through a broken encoding.
std::string EscapeHtml(std::string_view text);

// `text` percent-encoded for a URL path segment or query value (RFC 3986 unreserved kept).
// The result is also safe inside an HTML attribute.
std::string UrlComponent(std::string_view text);

}  // namespace hypersweep::dashboard

#endif  // HYPERSWEEP_CLIENT_DASHBOARD_HTML_H_
