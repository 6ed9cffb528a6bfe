/** dynalite ships no types: the part the tests use. */
declare module 'dynalite' {
  import type { Server } from 'node:net';
  export default function dynalite(options?: { createTableMs?: number; path?: string }): Server;
}
