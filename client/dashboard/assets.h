// The dashboard's static assets, embedded in the binary: no CDN, nothing fetched at run time.
#ifndef HYPERSWEEP_CLIENT_DASHBOARD_ASSETS_H_
#define HYPERSWEEP_CLIENT_DASHBOARD_ASSETS_H_

namespace hypersweep::dashboard {

// /static/dashboard.js: subscribes to the page's event stream (body data-events-url) and re-fetches
// the page's fragments ([data-fragment]) and plots (img[data-plot]) on each event; shows
// "reconnecting" and retries with exponential backoff (1 s doubling to 30 s) when the stream
// breaks; filters the trial table; posts the cancel request.
extern const char kDashboardJs[];

// /static/dashboard.css
extern const char kDashboardCss[];

}  // namespace hypersweep::dashboard

#endif  // HYPERSWEEP_CLIENT_DASHBOARD_ASSETS_H_
