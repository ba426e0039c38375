// Starts Swagger UI on the document at /openapi.json. The page calls nothing but this origin:
// no validator badge (it would send the document's address to swagger.io).
window.addEventListener("load", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#reference",
    deepLinking: true,
    validatorUrl: null,
    // "Try it out" sends real requests with the token given under "Authorize".
    persistAuthorization: false,
    displayOperationId: false,
    defaultModelsExpandDepth: 0,
  });
});
