import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface DataDirLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dataDir>/tally.pid` so that two pipelines never write one data dir (two writers of
 * one journal and lake would each re-drive and checkpoint the other's records). A lock left by
 * a process that no longer runs is taken over. Throws, naming the running process, otherwise.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, 'tally.pid');
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return {
        async release() {
          const owner = await readFile(path, 'utf8').catch(() => '');
          if (Number.parseInt(owner, 10) === process.pid) await unlink(path).catch(() => {});
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const pid = Number.parseInt(text, 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new Error(
        `another Tally (pid ${pid}) is running on the data dir ${dataDir}: stop it first, or use another TALLY_DATA_DIR`,
      );
    }
    if (text === '' && attempt === 0) {
      // Another start may be between creating the file and writing its pid: look again.
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    await unlink(path).catch(() => {});
  }
  throw new Error(`could not take the lock ${path}`);
}
