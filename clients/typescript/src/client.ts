// A thin client of the supervise API: openapi-fetch over the types generated from openapi/openapi.json
// (`npm run generate`). Every path, parameter, body and answer is typed by the document; nothing here is
// written by hand but the credential.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.d.ts";

export type Schemas = components["schemas"];
export type Supervise = ReturnType<typeof createClient<paths>>;

/** One answer the API gave: what was called and the headers a caller reads (null where the browser hides one). */
export type Call = {
  method: string;
  path: string;
  status: number;
  request_id: string | null;
  etag: string | null;
  location: string | null;
  replayed: string | null;
};

/** A client for the API at `baseUrl`, sending `token` (an API key, or an OIDC access token) as a bearer;
 * `observe` hears of every answer. */
export function supervise(baseUrl: string, token: string, observe?: (call: Call) => void): Supervise {
  const client = createClient<paths>({ baseUrl });
  const bearer: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
    onResponse({ request, response }) {
      const url = new URL(request.url);
      const header = (name: string) => response.headers.get(name);
      observe?.({
        method: request.method,
        path: url.pathname + url.search,
        status: response.status,
        request_id: header("X-Request-ID"),
        etag: header("ETag"),
        location: header("Location"),
        replayed: header("Idempotent-Replayed"),
      });
      return response;
    },
  };
  client.use(bearer);
  return client;
}

/** The answer's data, or an error naming the operation and carrying the problem document. */
export function must<T>(
  operation: string,
  answer: { data?: T; error?: unknown; response: Response },
): { data: T; etag: string | null; response: Response } {
  if (answer.data === undefined) {
    throw new Error(`${operation}: ${answer.response.status} ${JSON.stringify(answer.error)}`);
  }
  return { data: answer.data, etag: answer.response.headers.get("ETag"), response: answer.response };
}
