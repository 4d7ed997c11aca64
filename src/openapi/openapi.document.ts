import { createDocument } from 'zod-openapi';
import { paths } from './openapi.paths';

/** The REST contract's version (PROTOCOL §2), not the package's: it changes when a client must. */
export const API_VERSION = '1.0.0';

/**
 * The OpenAPI 3.1 document of the REST API, from the zod schemas the routes validate with (request
 * bodies and queries) and the response schemas of openapi.schemas.ts. Deterministic: it depends on no
 * configuration, so the committed src/openapi/openapi.json can be compared with it.
 */
export function buildOpenApiDocument(): ReturnType<typeof createDocument> {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'EchoCenter',
      version: API_VERSION,
      description: 'REST API of EchoCenter. Realtime traffic (Socket.IO namespaces /chat, /agents, /monitor) is described in docs, not here. Every error is `{error, code}`.',
    },
    tags: ['health', 'auth', 'users', 'agents', 'messages', 'authorizations'].map((name) => ({ name })),
    components: {
      securitySchemes: {
        loginJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A login JWT from POST /api/auth/login' },
        agentToken: { type: 'http', scheme: 'bearer', description: "An agent's API token (from POST /api/users/agents or a rotation)" },
      },
    },
    paths,
  });
}
