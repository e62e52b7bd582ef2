// /docs: Swagger UI (swagger-ui-dist, served from vendor/) on /api/v1/openapi.json.
// With authentication on, "Authorize" takes the token; the dashboard's token
// (sessionStorage, same tab) is used when there is one.
'use strict';
window.addEventListener('DOMContentLoaded', () => {
  if (typeof window.SwaggerUIBundle !== 'function') {
    document.getElementById('docs-missing').hidden = false;
    return;
  }
  const token = sessionStorage.getItem('tickhub-token');
  const ui = window.SwaggerUIBundle({
    url: '/api/v1/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    tryItOutEnabled: true,
    requestInterceptor: (req) => {
      if (token && !req.headers.Authorization) req.headers.Authorization = `Bearer ${token}`;
      return req;
    },
  });
  window.tickhubDocs = ui;
});
