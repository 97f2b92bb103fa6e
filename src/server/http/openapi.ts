/** The OpenAPI 3.1 document, generated from the route table and its zod schemas. */
import { z } from 'zod';
import { ApiError } from '../../protocol/web.js';
import { API, type RouteSpec, SCHEMA_COMPONENTS } from './api-spec.js';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
});

function operation(spec: RouteSpec): JsonSchema {
  const parameters: JsonSchema[] = [];
  if (spec.url.includes(':id')) {
    parameters.push({ name: 'id', in: 'path', required: true, schema: { type: 'string' } });
  }
  if (spec.query) {
    const query = jsonSchema(spec.query, 'input') as { properties?: Record<string, JsonSchema> };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      const { description, ...rest } = schema;
      parameters.push({ name, in: 'query', required: false, description, schema: rest });
    }
  }
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    const contentType = response.contentType ?? 'application/json';
    responses[status] = {
      description: response.description,
      ...(response.schema || response.contentType
        ? {
            content: {
              [contentType]: response.schema ? { schema: jsonSchema(response.schema, 'output') } : {},
            },
          }
        : {}),
    };
  }
  if (spec.body)
    responses['400'] = errorResponse('malformed JSON or a field is invalid (the message names it)');
  if (spec.access !== 'none') {
    responses['401'] = errorResponse('no valid token or session cookie');
    responses['403'] = errorResponse('Origin not allowed, or a viewer asked to change something');
    responses['429'] = errorResponse(
      'too_many_attempts: too many wrong tokens or cookies from this address await their answer (Retry-After)',
    );
  }
  if (/\/(sessions|terminal)\/:id/.test(spec.url)) responses['404'] = errorResponse('unknown session');
  for (const [status, description] of Object.entries(spec.errors ?? {})) {
    const common = responses[status] as { description?: string } | undefined;
    responses[status] = errorResponse(
      common?.description ? `${common.description}; ${description}` : description,
    );
  }
  return {
    summary: spec.summary,
    operationId: Object.entries(API).find(([, candidate]) => candidate === spec)?.[0],
    ...(spec.access === 'none' ? { security: [] } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } },
          },
        }
      : {}),
    responses,
  };
}

export function openApiDocument(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const schemas: Record<string, JsonSchema> = { ApiError: jsonSchema(ApiError, 'output') };
  for (const [name, schema] of Object.entries(SCHEMA_COMPONENTS))
    schemas[name] = jsonSchema(schema, 'output');
  for (const spec of Object.values(API) as RouteSpec[]) {
    const path = spec.url.replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][spec.method.toLowerCase()] = operation(spec);
    for (const [name, schema] of Object.entries(spec.components ?? {}))
      schemas[name] = jsonSchema(schema, 'output');
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tower web API',
      version: '0.1.0',
      description:
        'Sessions of the Tower daemon over HTTP. Authenticate with `Authorization: Bearer <token>` or the ' +
        'cookie set by POST /api/login. Non-GET requests from browsers must carry an allowed Origin.',
    },
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the admin or viewer token' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'tower_session_<port>' },
      },
    },
    security: [{ bearer: [] }, { cookie: [] }],
  };
}
