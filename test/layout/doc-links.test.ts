/**
 * The README and docs/ link only inside the repository, and every relative link resolves: a
 * page moved or renamed without its links fails here. Pure: reads markdown, well under a second.
 */
import { expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Markdown links outside code fences and inline code: [text](target). */
export function linksOf(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

test('every relative link in README.md and docs/ points at a file of the repository', () => {
  const broken: string[] = [];
  for (const page of PAGES) {
    for (const target of linksOf(readFileSync(join(ROOT, page), 'utf8'))) {
      if (/^(https?:|mailto:|#)/.test(target)) continue;
      const path = resolve(dirname(join(ROOT, page)), target.split('#')[0]);
      if (relative(ROOT, path).startsWith('..') || !existsSync(path)) broken.push(`${page}: ${target}`);
    }
  }
  expect(broken).toEqual([]);
});

test('the README links every page of docs/', () => {
  const readme = linksOf(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  expect(PAGES.filter((p) => p !== 'README.md' && !readme.includes(p))).toEqual([]);
});

test('the link reader skips code and finds a link that leaves the repository', () => {
  expect(linksOf('see [a](docs/a.md) and `[b](b.md)`\n```\n[c](c.md)\n```\n[d](../shared/DESIGN.md)')).toEqual(['docs/a.md', '../shared/DESIGN.md']);
});
