package io.metcd.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * One HTTP answer read off a raw socket, for tests that write requests no client library would send, or send them
 * when no client library would (to a paused node).
 *
 * @param headers by lower-case name
 */
public record HttpAnswer(int status, Map<String, String> headers, String body) {

    /** Reads a status line, headers and a body of Content-Length bytes. */
    public static HttpAnswer read(InputStream in) throws IOException {
        String[] head = readHead(in).split("\r\n");
        Map<String, String> headers = new HashMap<>();
        for (int i = 1; i < head.length; i++) {
            String[] field = head[i].split(":", 2);
            headers.put(field[0].trim().toLowerCase(), field[1].trim());
        }
        int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
        String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
        return new HttpAnswer(Integer.parseInt(head[0].split(" ")[1]), headers, body);
    }

    /** The same, from what a client library received. */
    public static HttpAnswer of(KvClient.Response response) {
        Map<String, String> headers = new HashMap<>();
        response.headers().map().forEach((name, values) -> headers.put(name.toLowerCase(), values.getFirst()));
        return new HttpAnswer(response.status(), headers, response.body());
    }

    /** The value of header {@code name} (any case), or {@code null}. */
    public String header(String name) {
        return headers.get(name.toLowerCase());
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed after " + head.size() + " bytes of an answer: " + head);
            }
            head.write(b);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    @Override
    public String toString() {
        return status + " (" + header("Content-Type") + ") " + body.strip();
    }
}
