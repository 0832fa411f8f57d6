/**
 * Environment variables that override the few config keys an operator sets per deployment
 * (container orchestration passes them more easily than an edited file). They are applied to the
 * parsed YAML before validation, so a bad value is reported like a bad key, naming the variable.
 */

export interface EnvOverride {
  /** The environment variable, e.g. `MSN_HOMESERVER_URL`. */
  readonly variable: string;
  /** The config key it replaces, e.g. `["homeserver", "url"]`. */
  readonly path: readonly [string, string];
}

export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { variable: "MSN_HOMESERVER_URL", path: ["homeserver", "url"] },
  { variable: "MSN_HOMESERVER_DOMAIN", path: ["homeserver", "domain"] },
  { variable: "MSN_APPSERVICE_URL", path: ["appservice", "url"] },
  { variable: "MSN_DATABASE_URI", path: ["database", "uri"] },
];

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The overrides that `env` sets. An empty value counts as unset: compose files commonly pass
 * `VAR: ${VAR}` through, which yields "" when the operator did not define it.
 */
export function activeEnvOverrides(env: Env): (EnvOverride & { value: string })[] {
  return ENV_OVERRIDES.flatMap((o) => {
    const value = env[o.variable];
    return value === undefined || value === "" ? [] : [{ ...o, value }];
  });
}

/**
 * Returns `raw` (parsed YAML, not yet validated) with the overrides from `env` applied, and a map
 * from each overridden key path (`homeserver.url`) to its variable. A section that is absent is
 * created; one that is not a mapping is left for validation to report.
 */
export function applyEnvOverrides(raw: unknown, env: Env): { raw: unknown; sources: Map<string, string> } {
  const sources = new Map<string, string>();
  const active = activeEnvOverrides(env);
  if (active.length === 0 || !isMapping(raw)) return { raw, sources };
  const out: Record<string, unknown> = { ...raw };
  for (const { variable, path, value } of active) {
    const [section, key] = path;
    const current = out[section] ?? {};
    if (!isMapping(current)) continue;
    out[section] = { ...current, [key]: value };
    sources.set(`${section}.${key}`, variable);
  }
  return { raw: out, sources };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
