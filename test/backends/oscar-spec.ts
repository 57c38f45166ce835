/**
 * The OSCAR Swagger 2.0 spec (cloud/oscar/oscar-swagger-v4.1.2.yaml) as a request and response
 * checker: matches method + path template, checks the auth scheme the operation's security allows,
 * the query parameters it declares, the Content-Type it consumes and the JSON body against its
 * definitions (converted to JSON Schema and compiled with ajv), and validates responses too.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';

export const SPEC_FILE = fileURLToPath(new URL('../../../cloud/oscar/oscar-swagger-v4.1.2.yaml', import.meta.url));

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'body' | 'header' | 'formData';
  required?: boolean;
  type?: string;
  schema?: Record<string, unknown>;
}

interface Operation {
  consumes?: string[];
  produces?: string[];
  parameters?: Parameter[];
  responses: Record<string, { schema?: Record<string, unknown> }>;
  security?: Record<string, unknown>[];
}

export interface MatchedOperation {
  method: string;
  template: string;
  params: Record<string, string>;
  op: Operation;
}

type Json = Record<string, unknown>;

/** Swagger 2.0 schema -> JSON Schema (draft 7 subset): drops vendor keys; optionally closes objects. */
function convert(schema: unknown, closed: boolean): unknown {
  if (Array.isArray(schema)) return schema.map((s) => convert(s, closed));
  if (!schema || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema as Json)) {
    if (k.startsWith('x-')) continue;
    if (k === 'properties' || k === 'definitions') {
      out[k] = Object.fromEntries(Object.entries(v as Json).map(([name, s]) => [name, convert(s, closed)]));
    } else {
      out[k] = convert(v, closed);
    }
  }
  // Closed objects catch misspelt fields in what the client sends (OSCAR, in Go, would drop them silently).
  if (closed && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

export class OscarSpec {
  readonly doc: { paths: Record<string, Record<string, Operation>>; definitions: Json };
  private readonly routes: { method: string; template: string; re: RegExp; names: string[]; op: Operation }[] = [];
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(file = SPEC_FILE) {
    this.doc = parse(readFileSync(file, 'utf8'));
    this.ajv.addSchema({ $id: 'oscar', definitions: convert(this.doc.definitions, false) as Json });
    this.ajv.addSchema({ $id: 'oscar-closed', definitions: convert(this.doc.definitions, true) as Json });
    for (const [template, ops] of Object.entries(this.doc.paths)) {
      const names: string[] = [];
      const re = new RegExp(
        `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, n: string) => (names.push(n), '([^/]+)'))}$`,
      );
      for (const [method, op] of Object.entries(ops)) this.routes.push({ method: method.toUpperCase(), template, re, names, op });
    }
  }

  match(method: string, pathname: string): MatchedOperation | undefined {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.re.exec(pathname);
      if (!m) continue;
      const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
      return { method, template: r.template, params, op: r.op };
    }
    return undefined;
  }

  private validator(schema: Json, closed: boolean): ValidateFunction {
    const key = `${closed}:${JSON.stringify(schema)}`;
    let v = this.cache.get(key);
    if (!v) {
      const base = closed ? 'oscar-closed' : 'oscar';
      const s = JSON.parse(JSON.stringify(convert(schema, closed)).replace(/"#\/definitions\//g, `"${base}#/definitions/`)) as Json;
      v = this.ajv.compile(s);
      this.cache.set(key, v);
    }
    return v;
  }

  private check(schema: Json, value: unknown, closed: boolean): string | undefined {
    const v = this.validator(schema, closed);
    if (v(value)) return undefined;
    return this.ajv.errorsText(v.errors, { dataVar: 'body' });
  }

  /**
   * Problems of a request: the auth scheme, the query, the Content-Type and the body. `authScheme`
   * is the Authorization header's scheme ('basic', 'bearer', or undefined when absent).
   */
  checkRequest(m: MatchedOperation, req: { authScheme?: string; query: URLSearchParams; contentType?: string; body: Buffer }): string[] {
    const problems: string[] = [];
    const what = `${m.method} ${m.template}`;
    // Security: absent means no credentials expected; otherwise one of the listed schemes.
    const allowed = (m.op.security ?? []).flatMap((s) => Object.keys(s)).map((s) => (s === 'BasicAuth' ? 'basic' : s === 'BearerAuth' ? 'bearer' : s));
    if (allowed.length === 0 && req.authScheme) problems.push(`${what}: sends credentials (${req.authScheme}) to an operation that needs none`);
    if (allowed.length > 0 && (!req.authScheme || !allowed.includes(req.authScheme))) {
      problems.push(`${what}: auth '${req.authScheme ?? 'none'}' where the spec allows ${allowed.join(' or ')}`);
    }
    const params = m.op.parameters ?? [];
    for (const [k, v] of req.query) {
      const p = params.find((x) => x.in === 'query' && x.name === k);
      if (!p) problems.push(`${what}: query parameter '${k}' is not in the spec`);
      else if (p.type === 'boolean' && v !== 'true' && v !== 'false') problems.push(`${what}: query '${k}=${v}' is not a boolean`);
      else if (p.type === 'integer' && !/^-?\d+$/.test(v)) problems.push(`${what}: query '${k}=${v}' is not an integer`);
    }
    for (const p of params) if (p.in === 'query' && p.required && !req.query.has(p.name)) problems.push(`${what}: missing query '${p.name}'`);
    const body = params.find((p) => p.in === 'body');
    if (req.body.length > 0) {
      if (!body) problems.push(`${what}: sends a body the spec does not declare`);
      const type = (req.contentType ?? '').split(';')[0]!.trim();
      const consumes = m.op.consumes ?? ['application/json'];
      if (!consumes.includes(type)) problems.push(`${what}: Content-Type '${type || 'none'}' is not one of ${consumes.join(', ')}`);
      if (body?.schema && (body.schema.$ref || body.schema.type === 'object' || body.schema.type === 'array')) {
        let value: unknown;
        try {
          value = JSON.parse(req.body.toString('utf8'));
        } catch {
          problems.push(`${what}: the body is not JSON`);
          return problems;
        }
        const err = this.check(body.schema, value, true);
        if (err) problems.push(`${what}: body does not match ${String(body.schema.$ref ?? body.schema.type)}: ${err}`);
      }
    } else if (body?.required) {
      problems.push(`${what}: the required body is missing`);
    }
    return problems;
  }

  /** Problems of a response: a status the operation does not declare, or a body not matching its schema. */
  checkResponse(m: MatchedOperation, status: number, body: string, contentType: string): string[] {
    const what = `${m.method} ${m.template} -> ${status}`;
    const r = m.op.responses[String(status)];
    if (!r) return [`${what}: status not in the spec`];
    const schema = r.schema;
    if (!schema) return [];
    if (schema.type === 'string') return contentType.startsWith('application/json') && body ? [`${what}: JSON where the spec has a string`] : [];
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return [`${what}: the body is not JSON`];
    }
    const err = this.check(schema, value, false);
    return err ? [`${what}: ${err}`] : [];
  }
}
