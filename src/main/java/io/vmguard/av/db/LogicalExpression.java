package io.vmguard.av.db;

import java.util.ArrayList;
import java.util.List;

/**
 * The logical expression of an .ldb signature: subsignature indexes joined by {@code &} and {@code |}, grouped
 * with parentheses, with match-count conditions {@code =X}, {@code >X}, {@code <X} and, on groups, {@code ,Y}
 * (at least Y distinct subsignatures).
 *
 * <p>Semantics follow ClamAV's cli_ac_chklsig, including its quirks, so that verdicts agree: there is no
 * precedence between {@code &} and {@code |}: outside parentheses the expression splits at its first operator
 * ({@code 0&1|2} is {@code 0&(1|2)}), inside a group at its last ({@code (0&1|2)} is {@code (0&1)|2}); a true node carries the number of matches below it and the set of
 * subsignatures that matched; a count condition on a single subsignature ignores {@code ,Y}; a group with a
 * condition passes its count upwards but not its set.
 */
public sealed interface LogicalExpression {
    /** Deeper nesting than this is refused (a line of a thousand parentheses must not exhaust the stack). */
    int MAX_DEPTH = 64;

    /** The highest subsignature index the expression names. */
    int maxIndex();

    /** Evaluates against per-subsignature match counts (indexes beyond the array count 0). */
    default boolean matches(int[] counts) {
        return evaluate(counts).value();
    }

    Result evaluate(int[] counts);

    record Result(boolean value, long count, long ids) {
        static final Result FALSE = new Result(false, 0, 0);
    }

    record Subsignature(int index) implements LogicalExpression {
        @Override
        public int maxIndex() {
            return index;
        }

        @Override
        public Result evaluate(int[] counts) {
            long n = count(counts, index);
            return n > 0 ? new Result(true, n, 1L << index) : Result.FALSE;
        }
    }

    record Both(char operator, LogicalExpression left, LogicalExpression right) implements LogicalExpression {
        @Override
        public int maxIndex() {
            return Math.max(left.maxIndex(), right.maxIndex());
        }

        @Override
        public Result evaluate(int[] counts) {
            Result l = left.evaluate(counts);
            Result r = right.evaluate(counts);
            boolean value = operator == '&' ? l.value() && r.value() : l.value() || r.value();
            return value ? new Result(true, l.count() + r.count(), l.ids() | r.ids()) : Result.FALSE;
        }
    }

    /** {@code inner=X}, {@code inner>X,Y}, ...; distinct is 0 when absent. */
    record Counted(LogicalExpression inner, char relation, long value, long distinct) implements LogicalExpression {
        @Override
        public int maxIndex() {
            return inner.maxIndex();
        }

        @Override
        public Result evaluate(int[] counts) {
            if (inner instanceof Subsignature(int index)) {
                long n = count(counts, index);
                return holds(n) ? new Result(true, n, 1L << index) : Result.FALSE;
            }
            Result r = inner.evaluate(counts);
            long n = r.value() ? r.count() : 0;
            long ids = r.value() ? r.ids() : 0;
            if (!holds(n) || (distinct > 0 && Long.bitCount(ids) < distinct)) {
                return Result.FALSE;
            }
            return new Result(true, n, 0);
        }

        private boolean holds(long n) {
            return switch (relation) {
                case '=' -> n == value;
                case '<' -> n < value;
                default -> n > value;
            };
        }
    }

    private static long count(int[] counts, int index) {
        return index < counts.length ? Integer.toUnsignedLong(counts[index]) : 0;
    }

    /** Parses an expression; the message says what is wrong and where. */
    static LogicalExpression parse(String text) throws LineRejected.Malformed {
        Parser p = new Parser(text);
        LogicalExpression e = p.expression(0);
        if (p.at < text.length()) {
            throw p.error("unexpected '" + text.charAt(p.at) + "'");
        }
        return e;
    }

    final class Parser {
        private final String text;
        private int at;

        private Parser(String text) {
            this.text = text;
        }

        // expression := counted ( ('&'|'|') counted )*
        // Outside parentheses ClamAV splits at the first operator (a&b|c is a&(b|c)); inside a group at the last
        // one, the part before it being read as an expression again ((a&b|c|d) is (a&(b|c))|d).
        private LogicalExpression expression(int depth) throws LineRejected.Malformed {
            List<LogicalExpression> operands = new ArrayList<>();
            StringBuilder operators = new StringBuilder();
            sequence(depth, operands, operators);
            return firstSplit(operands, operators, 0);
        }

        private void sequence(int depth, List<LogicalExpression> operands, StringBuilder operators) throws LineRejected.Malformed {
            if (depth > MAX_DEPTH) {
                throw error("nested more than " + MAX_DEPTH + " deep");
            }
            operands.add(counted(depth));
            while (at < text.length() && (text.charAt(at) == '&' || text.charAt(at) == '|')) {
                char operator = text.charAt(at++);
                if (at == text.length()) {
                    throw error("missing right argument of '" + operator + "'");
                }
                operators.append(operator);
                operands.add(counted(depth));
            }
        }

        private static LogicalExpression firstSplit(List<LogicalExpression> operands, CharSequence operators, int from) {
            LogicalExpression result = operands.get(operands.size() - 1);
            for (int i = operands.size() - 2; i >= from; i--) {
                result = new Both(operators.charAt(i), operands.get(i), result);
            }
            return result;
        }

        private LogicalExpression group(int depth) throws LineRejected.Malformed {
            List<LogicalExpression> operands = new ArrayList<>();
            StringBuilder operators = new StringBuilder();
            sequence(depth, operands, operators);
            if (operands.size() == 1) {
                return operands.getFirst();
            }
            int last = operands.size() - 1;
            LogicalExpression left = firstSplit(operands.subList(0, last), operators, 0);
            return new Both(operators.charAt(last - 1), left, operands.get(last));
        }

        // counted := primary ( ('='|'<'|'>') number (',' number)? )?
        private LogicalExpression counted(int depth) throws LineRejected.Malformed {
            LogicalExpression primary = primary(depth);
            if (at < text.length() && "=<>".indexOf(text.charAt(at)) >= 0) {
                char relation = text.charAt(at++);
                long value = number("a count after '" + relation + "'");
                long distinct = 0;
                if (at < text.length() && text.charAt(at) == ',') {
                    at++;
                    distinct = number("a number of distinct subsignatures after ','");
                }
                return new Counted(primary, relation, value, distinct);
            }
            return primary;
        }

        private LogicalExpression primary(int depth) throws LineRejected.Malformed {
            if (at >= text.length()) {
                throw error(at == 0 ? "empty expression" : "missing argument");
            }
            if (text.charAt(at) == '(') {
                at++;
                LogicalExpression inner = group(depth + 1);
                if (at >= text.length() || text.charAt(at) != ')') {
                    throw error("missing closing parenthesis");
                }
                at++;
                return inner;
            }
            long index = number("a subsignature index");
            if (index >= 64) {
                throw error("subsignature index " + index + " is beyond the 64 a logical signature may have");
            }
            return new Subsignature((int) index);
        }

        private long number(String what) throws LineRejected.Malformed {
            int start = at;
            while (at < text.length() && isDigit(text.charAt(at)) && at - start < 10) {
                at++;
            }
            if (start == at) {
                throw error("expected " + what + (at < text.length() ? ", found '" + text.charAt(at) + "'" : ""));
            }
            if (at < text.length() && isDigit(text.charAt(at))) {
                throw error("number too large");
            }
            return Long.parseLong(text, start, at, 10);
        }

        private static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }

        private LineRejected.Malformed error(String message) {
            return LineRejected.malformed("logical expression '" + Fields.shorten(text) + "': " + message + " at column " + (at + 1));
        }
    }
}
