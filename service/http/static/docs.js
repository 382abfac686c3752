// Swagger UI for this daemon, from the package (no CDN). Calls carry the page token that the
// status page stored for this tab; open the docs from the page to be signed in.
const token = sessionStorage.getItem("kata-providers-page-token");
window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  requestInterceptor: (request) => {
    if (token) request.headers.Authorization = `Bearer ${token}`;
    return request;
  },
});
