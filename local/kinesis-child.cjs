// Runs kinesis-local (argv[2] is its main.js) and ends it when the process that started it goes
// away, even by SIGKILL: the parent holds the other end of this process's stdin, which the kernel
// closes when the parent dies, so stdin ends here; a change of parent (the orphan handed to init
// or a subreaper) ends it too. kinesis-local replaces process.exit with a graceful shutdown of
// its own that can hang, so this keeps Node's own exit, and SIGKILLs itself if even that fails.
const exit = process.exit.bind(process);
const end = () => {
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1000).unref();
  exit(0);
};
const parent = process.ppid;
process.stdin.on('end', end);
process.stdin.on('error', end);
process.stdin.resume();
setInterval(() => {
  if (process.ppid !== parent) end();
}, 500).unref();
require(process.argv[2]);
