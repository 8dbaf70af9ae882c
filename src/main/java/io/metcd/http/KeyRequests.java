package io.metcd.http;

import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.HttpStatus;
import io.metcd.kv.KVStore;
import io.metcd.kv.ReadLevel;
import io.metcd.kv.Record;
import io.metcd.model.Command;
import io.metcd.model.Result;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.metcd.http.HttpApi.fail;

/**
 * The requests on keys: {@code GET}, {@code PUT} and {@code DELETE /{key}} with their revisions ({@code ETag},
 * {@code X-Revision}), conditions ({@code If-Match}, {@code If-None-Match: *}) and time to live ({@code ?ttl=},
 * {@code X-TTL}), and the range {@code GET /-/keys}. Each turns a request into one call on the store and its outcome
 * into a status and headers; anything malformed is a 400 before the store is asked.
 */
final class KeyRequests {
    static final long MAX_TTL_SECONDS = 31_536_000;
    static final int DEFAULT_RANGE_LIMIT = 1000;
    static final int MAX_RANGE_LIMIT = 10_000;
    private static final Pattern ENTITY_TAG = Pattern.compile("\"([1-9][0-9]{0,18})\"");

    private final KVStore store;

    KeyRequests(KVStore store) {
        this.store = store;
    }

    void get(Context ctx) throws InterruptedException {
        String key = key(ctx);
        KVStore.Values read = store.read(List.of(key), level(ctx));
        Record record = read.records().getFirst();
        ctx.header("X-Revision", Long.toString(read.revision()));
        if (record == null) {
            fail(HttpStatus.NOT_FOUND, "key not found");
        }
        ctx.header("ETag", entityTag(record.modRevision()));
        if (record.expires()) {
            // Seconds left, rounded up: 0 only once the deadline has passed and the leader's delete has not come yet.
            long millis = record.millisLeft(System.currentTimeMillis());
            ctx.header("X-TTL", Long.toString((millis + 999) / 1000));
        }
        ctx.contentType("application/octet-stream").result(record.value());
    }

    void put(Context ctx) throws InterruptedException, IOException {
        String key = key(ctx);
        Command.Condition condition = condition(ctx);
        Command.Expiry expiry = ttl(ctx);
        answer(ctx, store.write(new Command.Put(key, value(ctx), condition, expiry, false)));
    }

    void delete(Context ctx) throws InterruptedException {
        String key = key(ctx);
        if (ctx.queryParam("ttl") != null) {
            fail(HttpStatus.BAD_REQUEST, "ttl is for PUT only");
        }
        answer(ctx, store.write(new Command.Delete(List.of(key), condition(ctx))));
    }

    /** 204 with the revision the write made (or found), or 412 if its condition did not hold. */
    private static void answer(Context ctx, Result result) {
        switch (result) {
            case Result.Applied a -> {
                ctx.header("ETag", entityTag(a.revision()));
                ctx.header("X-Revision", Long.toString(a.revision()));
                ctx.status(HttpStatus.NO_CONTENT);
            }
            case Result.Refused r -> fail(HttpStatus.PRECONDITION_FAILED,
                    "precondition failed: the key changed, or exists, or does not, as If-Match or If-None-Match said");
        }
    }

    /** {@code GET /-/keys?prefix=&after=&limit=&values=}. */
    void range(Context ctx) throws InterruptedException {
        String prefix = boundedKey(ctx, "prefix", "");
        String after = boundedKey(ctx, "after", null);
        int limit = limit(ctx);
        boolean values = flag(ctx, "values");
        KVStore.Page page = store.range(prefix, after, limit, level(ctx));
        List<Map<String, Object>> keys = new ArrayList<>(page.keys().size());
        for (KVStore.Keyed k : page.keys()) {
            Map<String, Object> key = new LinkedHashMap<>();
            key.put("key", k.key());
            key.put("modRevision", k.record().modRevision());
            key.put("createRevision", k.record().createRevision());
            key.put("version", k.record().version());
            if (values) {
                putValue(key, k.record().value());
            }
            keys.add(key);
        }
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("revision", page.revision());
        answer.put("keys", keys);
        answer.put("more", page.more());
        ctx.json(answer);
    }

    // ------------------------------------------------------------------------------------ parameters

    static ReadLevel level(Context ctx) {
        String level = ctx.queryParam("level");
        return switch (level == null ? "default" : level) {
            case "stale" -> ReadLevel.STALE;
            case "default" -> ReadLevel.DEFAULT;
            case "consistent" -> ReadLevel.CONSISTENT;
            default -> throw new HttpResponseException(HttpStatus.BAD_REQUEST.getCode(),
                    "level must be stale, default or consistent");
        };
    }

    static String key(Context ctx) {
        String key = ctx.pathParam("key");
        int bytes = key.getBytes(StandardCharsets.UTF_8).length;
        if (bytes == 0) {
            fail(HttpStatus.BAD_REQUEST, "empty key");
        } else if (key.startsWith("-/")) {
            fail(HttpStatus.NOT_FOUND, "no such cluster API path (paths under /-/ are not keys)");
        } else if (bytes > HttpApi.MAX_KEY_BYTES) {
            fail(HttpStatus.CONTENT_TOO_LARGE, "key longer than " + HttpApi.MAX_KEY_BYTES + " bytes");
        }
        return key;
    }

    /**
     * The body, refused on its declared length before a byte of it is read, so that a client is not left sending a
     * value that can only be refused; a chunked body is refused by Javalin once it passes {@code maxRequestSize}.
     * What the client still sends of a refused body is read and dropped once it is answered ({@link UnreadBodyDrain}).
     */
    private static byte[] value(Context ctx) throws IOException {
        long length = ctx.req().getContentLengthLong();
        if (length > HttpApi.MAX_VALUE_BYTES) {
            fail(HttpStatus.CONTENT_TOO_LARGE, "value longer than " + HttpApi.MAX_VALUE_BYTES + " bytes");
        } else if (length < 0) {
            return ctx.bodyAsBytes();
        }
        // Read at its declared length in one array: Javalin's reader copies every body through an 8 KiB buffer.
        byte[] value = ctx.req().getInputStream().readNBytes((int) length);
        if (value.length < length) {
            throw new IOException("body ended after " + value.length + " of " + length + " bytes");
        }
        return value;
    }

    /**
     * {@code If-Match: "<rev>"} (the key exists at that revision), {@code If-Match: *} (it exists),
     * {@code If-None-Match: *} (it does not), or none.
     */
    private static Command.Condition condition(Context ctx) {
        String ifMatch = ctx.header("If-Match");
        String ifNoneMatch = ctx.header("If-None-Match");
        if (ifMatch != null && ifNoneMatch != null) {
            fail(HttpStatus.BAD_REQUEST, "If-Match and If-None-Match together");
        }
        if (ifNoneMatch != null) {
            if (!ifNoneMatch.strip().equals("*")) {
                fail(HttpStatus.BAD_REQUEST, "If-None-Match must be * (apply only if the key is absent)");
            }
            return Command.Condition.ABSENT;
        }
        if (ifMatch == null) {
            return Command.Condition.NONE;
        }
        String tag = ifMatch.strip();
        if (tag.equals("*")) {
            return Command.Condition.PRESENT;
        }
        Matcher m = ENTITY_TAG.matcher(tag);
        if (!m.matches()) {
            fail(HttpStatus.BAD_REQUEST, "If-Match must be * or one revision in quotes, such as \"17\"");
        }
        return Command.Condition.modRevision(Long.parseLong(m.group(1)));
    }

    private static Command.Expiry ttl(Context ctx) {
        String ttl = ctx.queryParam("ttl");
        if (ttl == null) {
            return Command.Expiry.NONE;
        }
        long seconds = ttl.matches("[0-9]{1,9}") ? Long.parseLong(ttl) : 0;
        if (seconds < 1 || seconds > MAX_TTL_SECONDS) {
            fail(HttpStatus.BAD_REQUEST, "ttl must be a whole number of seconds from 1 to " + MAX_TTL_SECONDS);
        }
        return Command.Expiry.after(seconds * 1000);
    }

    /** A query parameter that is a key or a part of one: at most a key's length. */
    static String boundedKey(Context ctx, String name, String absent) {
        String value = ctx.queryParam(name);
        if (value == null) {
            return absent;
        }
        if (value.getBytes(StandardCharsets.UTF_8).length > HttpApi.MAX_KEY_BYTES) {
            fail(HttpStatus.BAD_REQUEST, name + " longer than a key may be (" + HttpApi.MAX_KEY_BYTES + " bytes)");
        }
        return value;
    }

    private static int limit(Context ctx) {
        String limit = ctx.queryParam("limit");
        if (limit == null) {
            return DEFAULT_RANGE_LIMIT;
        }
        if (limit.matches("[0-9]{1,5}")) {
            int n = Integer.parseInt(limit);
            if (n >= 1 && n <= MAX_RANGE_LIMIT) {
                return n;
            }
        }
        throw new HttpResponseException(HttpStatus.BAD_REQUEST.getCode(),
                "limit must be a whole number from 1 to " + MAX_RANGE_LIMIT);
    }

    private static boolean flag(Context ctx, String name) {
        String value = ctx.queryParam(name);
        if (value == null || value.equals("false")) {
            return false;
        } else if (value.equals("true")) {
            return true;
        }
        throw new HttpResponseException(HttpStatus.BAD_REQUEST.getCode(), name + " must be true or false");
    }

    private static String entityTag(long revision) {
        return "\"" + revision + "\"";
    }

    /** Puts {@code value} into a JSON object as {@code "value"} if it is well-formed UTF-8, else as {@code "valueBase64"}. */
    static void putValue(Map<String, Object> json, byte[] value) {
        String text = utf8(value);
        if (text != null) {
            json.put("value", text);
        } else {
            json.put("valueBase64", Base64.getEncoder().encodeToString(value));
        }
    }

    /** The value as text if it is well-formed UTF-8, else {@code null}. */
    private static String utf8(byte[] value) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(value)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
