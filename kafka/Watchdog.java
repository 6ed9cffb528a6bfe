/**
 * Runs the Kafka broker (kafka.Kafka) and ends it when the process that started it goes away, even
 * by SIGKILL: that process holds the other end of this one's stdin, which the kernel closes when
 * it dies, so stdin ends here. Launched as a single source file (java -cp 'lib/*' Watchdog.java).
 */
public class Watchdog {
  public static void main(String[] args) throws Exception {
    Thread watcher =
        new Thread(
            () -> {
              try {
                while (System.in.read() != -1) {
                  // Nothing is ever written: the stream only ends.
                }
              } catch (java.io.IOException e) {
                // A broken pipe ends it the same way.
              }
              Runtime.getRuntime().halt(1);
            });
    watcher.setDaemon(true);
    watcher.start();
    kafka.Kafka.main(args);
  }
}
