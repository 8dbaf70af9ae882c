package io.metcd.http;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

import java.nio.charset.StandardCharsets;

/**
 * Answers the errors Jetty finds before a request reaches Javalin (a request line, header or percent-encoding it
 * cannot parse, headers over the size limit) as the rest of the API answers errors: one line of plain text.
 * Jetty's own answers are HTML pages, and empty for a PUT or a DELETE.
 */
final class PlainTextErrorHandler extends ErrorHandler {
    @Override
    public boolean errorPageForMethod(String method) {
        return true;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
            Callback callback) {
        String reason = message;
        if (code == HttpStatus.URI_TOO_LONG_414) {
            // Every path is a key (or a short cluster API path), and the contract answers a key too large with 413.
            response.setStatus(HttpStatus.PAYLOAD_TOO_LARGE_413);
            reason = "request line too long: keys are at most " + HttpApi.MAX_KEY_BYTES + " bytes";
        } else if (code == HttpStatus.BAD_REQUEST_400 && HttpStatus.getMessage(code).equals(reason)) {
            // Jetty names no cause for a bad percent-encoding, a dot segment or a relative path.
            reason = "malformed request line, header or percent-encoding";
        }
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
        String line = reason.replaceAll("[\\r\\n]+", " ") + "\n";
        response.write(true, StandardCharsets.UTF_8.encode(line), callback);
    }
}
