import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRICS } from '../../lib/metrics.js';

const ROOT = join(import.meta.dirname, '../..');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const outside = markdown.replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...outside.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

/** Every relative link of a page, as [page, target, anchor]. */
function links(page: string): Array<{ target: string; anchor: string | null }> {
  const text = readFileSync(join(ROOT, page), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((href) => !/^[a-z]+:/i.test(href))
    .map((href) => {
      const [path, anchor] = href.split('#') as [string, string | undefined];
      const target = path === '' ? page : relative(ROOT, join(dirname(join(ROOT, page)), path));
      return { target, anchor: anchor ?? null };
    });
}

describe('the docs', () => {
  it('keep the README a newcomer page, under 250 lines', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThan(250);
  });

  it.each(PAGES)('link only to files and headings that exist (%s)', (page) => {
    const found = links(page);
    for (const { target, anchor } of found) {
      expect(existsSync(join(ROOT, target)), `${page} -> ${target}`).toBe(true);
      if (anchor !== null && target.endsWith('.md')) {
        expect(
          anchorsOf(readFileSync(join(ROOT, target), 'utf8')),
          `${page} -> ${target}#${anchor}`,
        ).toContain(anchor);
      }
    }
  });

  it('reach every page from the README', () => {
    const linked = new Set(links('README.md').map((l) => l.target));
    for (const page of PAGES.filter((p) => p !== 'README.md')) expect(linked, page).toContain(page);
  });

  it("list every metric the functions publish in operations.md's table", () => {
    const rows = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    for (const name of Object.values(METRICS)) {
      expect(
        rows.some((row) => row.split('|')[1]!.includes(`\`${name}\``)),
        name,
      ).toBe(true);
    }
  });

  it('check what they claim: a broken link is caught', () => {
    expect(anchorsOf('# Crashes, restarts, failed batches\n')).toContain('crashes-restarts-failed-batches');
    expect(anchorsOf('```\n# not a heading\n```\n')).not.toContain('not-a-heading');
  });
});
