/**
 * Secrets come from the environment or from files, never from the command line: NAME holds the
 * value, or NAME_FILE names a file that holds it (one trailing newline removed).
 */
import { readFileSync, statSync } from 'node:fs';
import { FileError, UsageError } from './errors.js';
import { readFailure } from './files.js';

export type Env = Record<string, string | undefined>;

/** The most a secret file may hold: keys, passwords and tokens are far smaller. */
const SECRET_FILE_MAX = 65536;

/**
 * Why NAME_FILE's file is not read (a device or FIFO would be read without end; a directory has
 * no value), in readFailure's words, or undefined.
 */
function notSecretFile(file: string): string | undefined {
  const s = statSync(file);
  if (s.isDirectory()) return readFailure({ code: 'EISDIR' });
  if (!s.isFile()) return readFailure({ code: 'ENOTREG' });
  return s.size > SECRET_FILE_MAX ? `${s.size} bytes, more than a secret's ${SECRET_FILE_MAX}` : undefined;
}

/** The secret and where it came from (for messages: the variable's name, never the value). */
export function secretFromEnv(env: Env, name: string): { value: string; from: string } | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) throw new UsageError(`set ${name} or ${name}_FILE, not both`);
  if (file) {
    let text: string;
    try {
      const why = notSecretFile(file);
      if (why) throw new FileError(`${file}: cannot read ${name}_FILE (${why})`, { file });
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if (err instanceof FileError) throw err;
      throw new FileError(`${file}: cannot read ${name}_FILE (${readFailure(err)})`, { cause: err, file });
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
