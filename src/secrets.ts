/**
 * Secrets come from the environment or from files, never from the command line: NAME holds the
 * value, or NAME_FILE names a file that holds it (one trailing newline removed).
 */
import { readFileSync } from 'node:fs';
import { FileError, UsageError } from './errors.js';

export type Env = Record<string, string | undefined>;

/** The secret and where it came from (for messages: the variable's name, never the value). */
export function secretFromEnv(env: Env, name: string): { value: string; from: string } | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) throw new UsageError(`set ${name} or ${name}_FILE, not both`);
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new FileError(`${file}: cannot read ${name}_FILE (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err, file });
    }
    const value = text.replace(/\r?\n$/, '');
    if (!value) throw new UsageError(`${name}_FILE names an empty file (${file})`);
    return { value, from: `${name}_FILE` };
  }
  return direct ? { value: direct, from: name } : undefined;
}

/** Just the value of secretFromEnv. */
export function secretValue(env: Env, name: string): string | undefined {
  return secretFromEnv(env, name)?.value;
}
