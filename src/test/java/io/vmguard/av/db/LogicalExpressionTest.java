package io.vmguard.av.db;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LogicalExpressionTest {
    private static boolean eval(String expression, int... counts) throws LineRejected.Malformed {
        return LogicalExpression.parse(expression).matches(counts);
    }

    @Test
    void andOrAndParentheses() throws LineRejected.Malformed {
        assertTrue(eval("0&1", 1, 1));
        assertFalse(eval("0&1", 1, 0));
        assertTrue(eval("0|1", 0, 3));
        assertTrue(eval("(0|1)&2", 0, 1, 1));
        assertFalse(eval("(0|1)&2", 1, 1, 0));
    }

    @Test
    void operatorsHaveNoPrecedenceTheFirstOneSplits() throws LineRejected.Malformed {
        // ClamAV: 0&1|2 = 0&(1|2); with a precedence of & over | it would be true here.
        assertFalse(eval("0&1|2", 0, 0, 1));
        assertTrue(eval("0|1&2", 1, 0, 0));
    }

    @Test
    void insideParenthesesTheLastOperatorSplits() throws LineRejected.Malformed {
        // ClamAV reads a group's content up to its last operator as an expression again: (0&1|2) is (0&1)|2, and
        // (0&1|2|3) is (0&(1|2))|3. Checked against clamscan (LogicalDifferentialTest).
        assertTrue(eval("(0&1|2)", 0, 0, 1));
        assertFalse(eval("0&1|2", 0, 0, 1));
        assertTrue(eval("(0&1|2|3)", 0, 0, 0, 1));
        assertFalse(eval("(0&1|2|3)", 0, 1, 0, 0));
        assertTrue(eval("(0&1|2|3)", 1, 0, 1, 0));
    }

    @Test
    void countsOnSubsignaturesAndGroups() throws LineRejected.Malformed {
        assertTrue(eval("0=2", 2));
        assertFalse(eval("0=2", 3));
        assertTrue(eval("0=0", 0), "=0 is negation");
        assertTrue(eval("0>1", 2));
        assertFalse(eval("0>1", 1));
        assertTrue(eval("0<2", 1));
        assertTrue(eval("0<2", 0), "<2 holds for no match at all");
        assertTrue(eval("(0|1)>2", 2, 1));
        assertFalse(eval("(0|1)>2", 2, 0));
        assertTrue(eval("(0|1|2)>1,2", 2, 0, 1));
        assertFalse(eval("(0|1|2)>1,2", 5, 0, 0), "one distinct subsignature is too few");
    }

    @Test
    void aGroupWithACountPassesItsCountButNotItsSubsignatures() throws LineRejected.Malformed {
        // The counted inner group passes 6 matches but no subsignatures up (cli_ac_chklsig), so only
        // subsignature 2 is distinct for ,2: clamscan agrees (0, 1 and 2 all matched, no detection).
        assertFalse(eval("((0|1)>0&2)>1,2", 3, 3, 1));
        assertTrue(eval("((0|1)>0&2)>1,1", 3, 3, 1));
        assertTrue(eval("((0|1)>0&2)>1", 3, 3, 1));
    }

    @Test
    void maxIndexCountsSubsignatures() throws LineRejected.Malformed {
        assertEquals(4, LogicalExpression.parse("((0|1|2)>5,2)&(3|4)").maxIndex());
    }

    @Test
    void malformedExpressionsSayWhere() {
        for (String bad : new String[] {"", "(0", "0)", "0&", "&1", "0>", "0=x", "a", "0 & 1", "64", "0>99999999999", "(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((0)))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))"}) {
            LineRejected.Malformed e = assertThrows(LineRejected.Malformed.class, () -> LogicalExpression.parse(bad), bad);
            assertTrue(e.getMessage().contains("logical expression"), e.getMessage());
        }
    }
}
