"""Answering: retrieved passages become an answer whose every claim is quoted or verified.

In the order an answer is made:

evidence.py    the few best sentences of the passages, dated, newest article first
injection.py   sentences that address the model instead of the reader: withheld, never evidence
prompts.py     the prompt files (prompts/*.md) filled with the evidence and the conversation
llm.py         who writes the answer (`QA_BOT_LLM`): the embedded model, OpenAI or any compatible server
local_llm.py   the embedded model: the packaged GGUF and the llama.cpp server that runs it
queue.py       turns at a model that writes one answer at a time
deadline.py    one time limit for a whole answer, retries included
extractive.py  without a model: the passages' own best sentences
pointer.py     what the model answers with: a short answer and the number of the sentence stating it
quoting.py     the pointed sentence quoted word for word, and checked against the question
verify.py      does a cited passage state a claim? (names, numbers, one place, who did it, how recent)
answer.py      Answer, Citation: markers parsed, citations verified or repaired, refusals, dating
"""
