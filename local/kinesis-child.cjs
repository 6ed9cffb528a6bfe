// Runs kinesis-local (argv[2] is its main.js) and ends it when the process that started it goes
// away, even by SIGKILL: the parent holds the other end of this process's stdin, which the kernel
// closes when the parent dies, so stdin ends here; and in case stdin is not read, a change of
// parent (the orphan is handed to init or a subreaper) ends it too.
const parent = process.ppid;
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();
require(process.argv[2]);
