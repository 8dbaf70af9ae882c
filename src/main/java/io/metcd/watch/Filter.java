package io.metcd.watch;

/** Which keys a watcher is told of: one key, or every key that starts with a prefix (every key for {@code ""}). */
public sealed interface Filter {
    boolean matches(String key);

    record Key(String key) implements Filter {
        @Override
        public boolean matches(String changed) {
            return changed.equals(key);
        }
    }

    record Prefix(String prefix) implements Filter {
        @Override
        public boolean matches(String changed) {
            return changed.startsWith(prefix);
        }
    }
}
