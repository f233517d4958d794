"""Turns at a model that writes one answer at a time: first come, first served, with a place in line."""

from __future__ import annotations

import threading

from qa_bot.answering.queue import AnswerQueue


def test_each_question_knows_how_many_are_ahead_and_moves_up_as_answers_finish():
    line = AnswerQueue(slots=1)
    first, second, third = line.join(), line.join(), line.join()

    assert [line.ahead_of(t) for t in (first, second, third)] == [0, 1, 2]
    line.leave(first, answered_in=8.0)
    assert [line.ahead_of(t) for t in (second, third)] == [0, 1]


def test_the_estimate_comes_from_recent_answer_times_and_is_unknown_before_any():
    line = AnswerQueue(slots=1)
    assert line.estimate_s(2) is None

    for seconds in (8.0, 10.0, 30.0):
        line.leave(line.join(), answered_in=seconds)

    assert line.estimate_s(2) == 20.0  # the median answer, twice
    assert AnswerQueue(slots=2).estimate_s(2) is None


def test_a_question_that_gave_up_leaves_the_line_without_counting_as_an_answer():
    line = AnswerQueue(slots=1)
    first, second = line.join(), line.join()

    line.leave(second)  # the asker closed the page while waiting
    line.leave(first, answered_in=5.0)

    assert line.estimate_s(1) == 5.0 and line.ahead_of(line.join()) == 0


def test_questions_from_many_sessions_are_answered_in_the_order_they_were_asked():
    line = AnswerQueue(slots=1)
    tickets = [line.join() for _ in range(5)]  # asked in this order
    started: list[int] = []

    def answer(ticket) -> None:
        while line.wait_for_change(ticket, timeout=5.0):
            pass
        started.append(ticket.number)
        line.leave(ticket, answered_in=0.01)

    threads = [threading.Thread(target=answer, args=(t,)) for t in reversed(tickets)]  # started backwards
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert started == [t.number for t in tickets]
