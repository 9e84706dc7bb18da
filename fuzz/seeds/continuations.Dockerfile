FROM busybox AS base
RUN echo one \
# a comment inside the continuation
    && echo two \

    && echo three \
  # indented comment

    && echo four
LABEL a=b \   
      c=d
\
RUN echo "line after a lone backslash"
ENV X=1 \
