/**
 * "Did you mean …?" for misspelt keys, group names and host patterns.
 */

/**
 * Edit distance counting a swap of two neighbours as one edit (optimal string alignment), so
 * `ansible_prot` is one edit from `ansible_port`, as a person would count it.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  // One flat array: noUncheckedIndexedAccess makes nested arrays noisy to index.
  const d = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate `word` most likely misspells, or undefined when none is close. Close means at most
 * `maxDistance` edits (default: 1 for short words, 2 from 6 characters, 3 from 12), or that `word`
 * minus its last letter starts the candidate (`childs` → `children`, `host` → `hosts`).
 */
export function suggest(word: string, candidates: Iterable<string>, maxDistance?: number): string | undefined {
  const limit = maxDistance ?? (word.length >= 12 ? 3 : word.length >= 6 ? 2 : 1);
  const lower = word.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    const prefix = lower.length >= 4 && candidate.toLowerCase().startsWith(lower.slice(0, -1));
    if (distance > limit && !prefix) continue;
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  return best?.name;
}
