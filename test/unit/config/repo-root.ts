import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, found from this (compiled) file wherever the build directory is. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) || !existsSync(join(dir, "config"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("repository root not found above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}
